"""The planted-bug list (`make mutants`) stays applicable: every entry edits text that occurs
exactly once in the tree, names tests that exist, and changes something."""

from __future__ import annotations

import pytest

from tests.mutants import MUTANTS, REPO


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_every_planted_bug_applies_and_names_existing_tests(mutant):
    assert (REPO / mutant.file).read_text().count(mutant.old) == 1, mutant.file
    assert mutant.old != mutant.new
    for test in mutant.tests:
        path, _, name = test.partition("::")
        assert (REPO / path).is_file(), test
        assert not name or f"def {name.split('[')[0]}(" in (REPO / path).read_text(), test


def test_planted_bug_names_are_unique():
    assert len({m.name for m in MUTANTS}) == len(MUTANTS)
