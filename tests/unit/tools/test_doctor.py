"""`synth2real doctor`: probes, the fix it prints for each gap, and its exit status."""

from __future__ import annotations

import re

import pytest

from synth2real.tools import doctor
from tests.conftest import REPO


def test_every_row_of_the_package_list_has_a_known_group_and_probe():
    rows = doctor.system_packages()
    assert {g for _, g, _ in rows} == {"base", "project", "test"}
    for package, _, probe in rows:
        doctor.probe_present(probe)  # raises on an unknown probe kind
    names = [p for p, _, _ in rows]
    assert {"python3", "python3-venv", "make", "git", "lmodern", "latexmk"} <= set(names)
    assert len(names) == len(set(names))


def test_probes_tell_present_from_absent(tmp_path):
    assert doctor.probe_present("cmd:sh")[0]
    assert not doctor.probe_present("cmd:no-such-program-synth2real")[0]
    f = tmp_path / "x"
    f.write_text("")
    assert doctor.probe_present(f"file:{f}")[0]
    assert not doctor.probe_present(f"file:{tmp_path / 'y'}")[0]
    with pytest.raises(ValueError, match="unknown probe kind"):
        doctor.probe_present("rpm:foo")


def _fake_list(tmp_path, monkeypatch, rows: str):
    listing = tmp_path / "system-packages.txt"
    listing.write_text("# header\n" + rows)
    real = doctor.system_packages
    monkeypatch.setattr(doctor, "system_packages", lambda path=listing: real(path))


def test_missing_required_package_fails_with_the_fix(tmp_path, monkeypatch, capsys, bundle):
    _fake_list(tmp_path, monkeypatch, "make base cmd:sh why\n"
               "nosuchpkg project cmd:no-such-program-synth2real why\n")
    assert doctor.main(["--bundle", str(bundle)]) == 1
    out = capsys.readouterr().out
    assert re.search(r"MISSING\s+nosuchpkg \(project\)", out), out
    assert "`make system-deps` (or: sudo apt-get install --no-install-recommends nosuchpkg)" in out
    assert "missing: nosuchpkg (project)" in out


def test_test_group_and_gpu_are_never_required(tmp_path, monkeypatch, capsys, bundle):
    _fake_list(tmp_path, monkeypatch, "make base cmd:sh why\n"
               "browser test cmd:no-such-program-synth2real why\n")
    assert doctor.main(["--bundle", str(bundle)]) == 0
    out = capsys.readouterr().out
    assert "make test-deps" in out and "all required parts present" in out


def test_bad_bundle_is_named(tmp_path, capsys):
    assert doctor.main(["--bundle", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert str(tmp_path) in out and "BUNDLE=<dir>" in out


def test_the_list_is_the_one_the_makefile_and_dockerfile_read():
    text = (REPO / "Makefile").read_text()
    assert "system-packages.txt" in text
    assert "system-packages.txt" in (REPO / "docker" / "Dockerfile").read_text()
    assert "system-packages.txt" in (REPO / ".ci" / "fresh-root.sh").read_text()
