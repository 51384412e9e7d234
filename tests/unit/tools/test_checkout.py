"""The one way the developer tools find the repository: upwards from the working directory."""

from __future__ import annotations

import re

import pytest

from synth2real.tools.checkout import MARKERS, CheckoutNotFound, find_checkout
from tests.conftest import REPO


def test_found_from_the_root_and_from_below(monkeypatch):
    assert find_checkout(REPO) == REPO
    assert find_checkout(REPO / "src" / "synth2real" / "tools") == REPO
    monkeypatch.chdir(REPO / "workflow")
    assert find_checkout() == REPO


def test_error_names_what_it_looked_for_and_where(tmp_path):
    (tmp_path / "uv.lock").write_text("")  # one marker is not enough
    (tmp_path / "deeper").mkdir()
    with pytest.raises(CheckoutNotFound) as info:
        find_checkout(tmp_path / "deeper")
    msg = str(info.value)
    assert all(m in msg for m in MARKERS) and str(tmp_path / "deeper") in msg


def test_no_module_locates_the_checkout_from_its_own_file():
    # Installed modules do not know where a checkout is; only find_checkout looks for one.
    offenders = [str(p.relative_to(REPO)) for p in (REPO / "src").rglob("*.py")
                 if re.search(r"__file__\)?\.resolve\(\)\.parents\[", p.read_text())]
    assert offenders == []
