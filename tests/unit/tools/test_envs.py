"""Conda environments agree with uv.lock: generated from it, and every pin checked against it."""

from __future__ import annotations

import re
import tomllib

import yaml

from synth2real.tools import envs
from tests.conftest import REPO

ENV_FILES = [REPO / "environment.yml", *sorted((REPO / "envs").glob("*.yaml"))]


def _lock() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for p in tomllib.loads((REPO / "uv.lock").read_text())["package"]:
        out.setdefault(envs._norm(p["name"]), set()).add(p["version"])
    return out


def test_every_pin_agrees_with_uv_lock():
    lock = _lock()
    locked_311 = envs.locked_versions()
    checked = 0
    for path in ENV_FILES:
        doc = yaml.safe_load(path.read_text())
        deps = doc["dependencies"]
        python = [d for d in deps if isinstance(d, str) and d.startswith("python=")]
        assert python == [f"python={envs.PYTHON}"], path
        pip = next(d["pip"] for d in deps if isinstance(d, dict))
        for req in pip:
            if req.startswith("-e "):
                continue
            m = re.fullmatch(r"([A-Za-z0-9_.-]+)==([^\s;]+)", req)
            assert m, f"{path.name}: {req!r} is not pinned with =="
            name, version = envs._norm(m[1]), m[2]
            assert version in lock.get(name, set()), f"{path.name}: {req} not in uv.lock"
            assert locked_311[name] == version, f"{path.name}: {req} is not the Python 3.11 pin"
            checked += 1
    assert checked > 30


def test_python_of_the_envs_satisfies_the_lock():
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    spec = lock["requires-python"]  # e.g. ">=3.11, <3.13"
    low = re.search(r">=\s*(\d+)\.(\d+)", spec)
    high = re.search(r"<\s*(\d+)\.(\d+)", spec)
    v = tuple(int(x) for x in envs.PYTHON.split("."))
    assert (int(low[1]), int(low[2])) <= v < (int(high[1]), int(high[2]))


def test_files_are_exactly_what_the_generator_writes():
    generated = envs.generate()
    assert set(generated) == set(ENV_FILES)
    for path, text in generated.items():
        assert path.read_text() == text, f"{path} is stale: run `synth2real envs`"


def test_every_rule_names_an_existing_stage_env():
    for smk in (REPO / "workflow" / "rules").glob("*.smk"):
        text = smk.read_text()
        rules = re.findall(r"^ *rule( \w+)?:", text, flags=re.MULTILINE)  # named, or in a loop
        envs_named = re.findall(r'conda:\s*\n\s*"\.\./\.\./envs/(\w+)\.yaml"', text)
        assert len(envs_named) == len(rules), f"{smk.name}: every rule needs a conda: env"
        assert set(envs_named) <= set(envs.STAGES)


def test_locked_version_picks_the_python_311_resolution():
    # numpy is resolved twice in the lock (Python < 3.12 and >= 3.12): the 3.11 one wins.
    numpy = _lock()["numpy"]
    assert envs.locked_versions()["numpy"] in numpy
    if len(numpy) > 1:
        assert envs.locked_versions()["numpy"] == min(numpy, key=lambda v: tuple(map(int, v.split("."))))


def test_stray_env_file_is_reported_then_removed(tmp_path, monkeypatch, capsys):
    for name in ("Snakefile", "uv.lock", "pyproject.toml"):
        (tmp_path / name).write_bytes((REPO / name).read_bytes())
    (tmp_path / "envs").mkdir()
    monkeypatch.chdir(tmp_path)
    assert envs.main([]) == 0
    assert envs.main(["--check"]) == 0
    (tmp_path / "envs" / "gone.yaml").write_text("name: gone\n")
    assert envs.main(["--check"]) == 1
    assert "envs/gone.yaml" in capsys.readouterr().err
    assert envs.main([]) == 0 and not (tmp_path / "envs" / "gone.yaml").exists()
    assert sorted(p.name for p in (tmp_path / "envs").glob("*.yaml")) == sorted(
        f"{s}.yaml" for s in envs.STAGES)


def test_report_env_has_no_torch():
    # Report jobs (summary, tables, figures, LaTeX) never import torch.
    doc = yaml.safe_load((REPO / "envs" / "report.yaml").read_text())
    pip = next(d["pip"] for d in doc["dependencies"] if isinstance(d, dict))
    names = {envs._norm(r.split("==")[0]) for r in pip}
    assert not names & {"torch", "torchvision", "triton"}, names
