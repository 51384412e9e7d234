"""Which run `make demo` serves when none is named: the newest with exported models."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from synth2real.errors import ConfigError
from synth2real.serve.runs import newest_run, recorded_demo_section, runs_with_models
from tests.conftest import REPO


def make_run(parent: Path, name: str, exported: float | None, demo: dict | None = None) -> Path:
    """A run folder; with models exported at time `exported` (None: an unfinished run), and a
    provenance record holding `demo` as its config's `demo:` section."""
    root = parent / name
    (root / "results").mkdir(parents=True)
    if exported is not None:
        (root / "models").mkdir()
        card = root / "models" / "card.json"
        card.write_text("{}")
        os.utime(card, (exported, exported))
    if demo is not None:
        (root / "results" / "provenance.json").write_text(json.dumps({"config": {"demo": demo}}))
    return root


def test_the_newest_export_wins_whatever_the_names(tmp_path):
    make_run(tmp_path, "paper", 1_000)
    offline = make_run(tmp_path, "offline", 2_000)
    make_run(tmp_path, "unfinished", None)
    (tmp_path / "notes.txt").write_text("not a run")
    assert [r.root.name for r in runs_with_models(tmp_path)] == ["offline", "paper"]
    run = newest_run(tmp_path)
    assert run.root == offline and run.models == offline / "models"
    assert run.describe().startswith(f"{offline} (models exported ")
    os.utime(tmp_path / "paper" / "models" / "card.json", (3_000, 3_000))  # re-exported later
    assert newest_run(tmp_path).root.name == "paper"


def test_no_run_with_models_says_what_was_found_and_how_to_make_one(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"runs/ does not exist") as err:
        newest_run(tmp_path / "runs")
    assert "make reproduce CONFIG=config/offline.yaml BUNDLE=<bundle>" in str(err.value)
    assert "make demo MODELS=<folder>" in str(err.value)
    (tmp_path / "runs").mkdir()
    with pytest.raises(FileNotFoundError, match=r"runs/ is empty"):
        newest_run(tmp_path / "runs")
    make_run(tmp_path / "runs", "paper", None)
    with pytest.raises(FileNotFoundError, match=r"runs/ holds paper, none with models/card.json"):
        newest_run(tmp_path / "runs")


def test_recorded_demo_section_comes_from_the_runs_provenance(tmp_path):
    run = make_run(tmp_path, "offline", 1_000, demo={"unsure_threshold": 0.9})
    assert recorded_demo_section(run) == ({"unsure_threshold": 0.9},
                                          run / "results" / "provenance.json")
    assert recorded_demo_section(make_run(tmp_path, "old", 1_000)) is None
    (run / "results" / "provenance.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"provenance.json: not valid JSON"):
        recorded_demo_section(run)


def test_a_runs_own_demo_settings_are_used_and_checked(app, tmp_path):
    run = make_run(tmp_path, "offline", 1_000, demo={"unsure_threshold": 0.9})
    assert app.run_demo_settings(run).unsure_threshold == 0.9
    assert app.run_demo_settings(make_run(tmp_path, "old", 1_000)).unsure_threshold == 0.6
    bad = make_run(tmp_path, "bad", 1_000, demo={"unsure_threshold": 3})
    with pytest.raises(ConfigError, match=r"provenance.json: invalid `demo:` section:\n"
                                          r"  - demo.unsure_threshold: .*less than 1 \(got 3\)"):
        app.run_demo_settings(bad)


def test_demo_without_a_run_to_serve_exits_with_the_fix(app, tmp_path, capsys):
    assert app.main(["--newest-run", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("demo: no run with exported models to serve") and "make reproduce" in err


def make_demo(*args: str, env: dict | None = None) -> str:
    """The command `make demo` would run (make -n: nothing runs)."""
    proc = subprocess.run(["make", "-n", "-C", str(REPO), "demo", *args], capture_output=True,
                          text=True, check=True, timeout=120,
                          env={k: v for k, v in os.environ.items()
                               if k not in ("CONFIG", "RUN_DIR", "MODELS")} | (env or {}))
    (line,) = [ln for ln in proc.stdout.replace("\\\n", " ").splitlines() if "synth2real demo" in ln]
    return " ".join(line.split())


def test_make_demo_serves_the_newest_run_unless_one_is_named():
    assert make_demo().endswith("demo --host 127.0.0.1 --port 7860 --newest-run runs")
    assert make_demo("CONFIG=config/offline.yaml").endswith(
        "--models runs/offline/models --config config/offline.yaml")
    assert make_demo("MODELS=/some/models").endswith("--models /some/models --config config/paper.yaml")
    assert "--models runs/x/models" in make_demo("RUN_DIR=runs/x")
    # A CONFIG exported in the shell chooses the run as on the command line.
    assert "--config config/offline.yaml" in make_demo(env={"CONFIG": "config/offline.yaml"})
