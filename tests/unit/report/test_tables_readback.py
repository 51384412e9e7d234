"""Every cell of every table the paper prints, read back against the summary it came from: a
fake summary with known numbers, written by the table rules' entry point and parsed back by
the same readers the end-to-end test applies to the offline study."""

from __future__ import annotations

import json

import pytest

from synth2real.report import tables
from tests.e2e import readback
from tests.unit.report.fakes import fake_summary


@pytest.fixture
def run(tmp_path):
    summary = fake_summary()
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "summary.json").write_text(json.dumps(summary))
    for name in tables.TABLES:
        out = [str(tmp_path / "paper" / "tables" / f"{name}.{ext}") for ext in ("csv", "md", "tex")]
        tables.write(str(tmp_path / "results" / "summary.json"), *out, table=name)
    return tmp_path


def test_every_printed_table_has_a_reader():
    assert set(tables.TABLES) <= set(readback.CHECKS)


@pytest.mark.parametrize("check", sorted(tables.TABLES))
def test_every_cell_reads_back_to_the_summary(run, check):
    assert readback.CHECKS[check](run) == []


def test_a_wrong_cell_is_found(run):
    """The reader is not vacuous: Table I with one variant's mean replaced by its std."""
    path = run / "paper" / "tables" / "results.md"
    s = json.loads((run / "results" / "summary.json").read_text())
    t = s["variants"]["pseudo-label"]["test_acc"]
    text = path.read_text()
    mean, std = f"{100 * t['mean']:.2f}", f"{100 * t['std']:.2f}"
    assert mean in text
    path.write_text(text.replace(f"{mean} ± {std}", f"{std} ± {std}", 1))
    assert readback.CHECKS["results"](run)
