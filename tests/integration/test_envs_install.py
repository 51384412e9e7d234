"""Each conda env's pip part installs on its own and runs its stage's code.

Conda channels cannot be reached here, so this checks what can be checked
without them: the env's `pip:` list (the full pinned set from uv.lock) installs
into a clean venv of the env's Python with nothing resolved beyond it
(`--no-deps`; wheels from the uv cache that `make setup` filled, index pages from
the package registry), passes `pip check`, and imports every synth2real module that the scripts of the env's rules
import, with synth2real taken from the checkout's src/ as the Snakefile arranges.
The demo runs from the project env: environment.yml gets the same check with
demo/app.py's imports, and the page answers `--help`.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess

import pytest
import yaml

from synth2real.tools import envs
from tests.conftest import REPO

pytestmark = pytest.mark.timeout(900)


def _uv() -> str:
    uv = REPO / ".uv" / "bin" / "uv"
    found = str(uv) if uv.exists() else shutil.which("uv")
    assert found, "no uv: run `make setup` first (it installs uv into .uv/)"
    return found


def _imports(path) -> set[str]:
    """The synth2real modules a file imports, in any form: `from synth2real.data.card import
    write_all`, `from synth2real import smk`, `from synth2real.data import card as c`,
    `import synth2real.smk`, and `import_module(f"synth2real.report.figures.{name}")`
    (every module of that package)."""
    src = REPO / "src"

    def is_module(dotted: str) -> bool:
        p = src.joinpath(*dotted.split("."))
        return p.with_suffix(".py").is_file() or (p / "__init__.py").is_file()

    def ours(dotted: str | None) -> bool:
        return bool(dotted) and dotted.split(".")[0] == "synth2real"

    mods: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            mods |= {a.name for a in node.names if ours(a.name)}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and ours(node.module):
            mods.add(node.module)
            mods |= {f"{node.module}.{a.name}" for a in node.names
                     if is_module(f"{node.module}.{a.name}")}
        elif isinstance(node, ast.Call) and node.args and \
                getattr(node.func, "id", getattr(node.func, "attr", "")) == "import_module":
            arg = node.args[0]
            head = arg.value if isinstance(arg, ast.Constant) else (
                arg.values[0].value if isinstance(arg, ast.JoinedStr) and arg.values
                and isinstance(arg.values[0], ast.Constant) else "")
            if not ours(str(head)):
                continue
            if isinstance(arg, ast.Constant):
                mods.add(head)
            else:  # a name chosen at run time: every module of the package it is in
                package = head[:-1] if head.endswith(".") else head.rsplit(".", 1)[0]
                folder = src.joinpath(*package.split("."))
                mods |= {f"{package}.{f.stem}" for f in folder.glob("*.py") if f.stem != "__init__"}
    return mods - {"synth2real"}


def stage_modules() -> dict[str, set[str]]:
    """env name -> the synth2real modules imported by the scripts of the rules naming it."""
    out: dict[str, set[str]] = {}
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"^rule ", smk.read_text(), flags=re.MULTILINE)[1:]:
            env = re.search(r'conda:\s*\n\s*"\.\./\.\./envs/(\w+)\.yaml"', block)
            script = re.search(r'script:\s*\n\s*"\.\./(scripts/\w+\.py)"', block)
            if env and script:
                out.setdefault(env[1], set()).update(_imports(REPO / "workflow" / script[1]))
    return out


def test_every_stage_env_has_scripts_to_check():
    assert set(stage_modules()) == set(envs.STAGES)


def _install(env_file, tmp_path) -> tuple[str, dict[str, str]]:
    """A clean venv with `env_file`'s pip part (checked); its python and the env to run it."""
    name = env_file.relative_to(REPO)
    doc = yaml.safe_load(env_file.read_text())
    pip = next(d["pip"] for d in doc["dependencies"] if isinstance(d, dict))
    assert not [r for r in pip if not re.fullmatch(r"[A-Za-z0-9_.-]+==\S+", r)], \
        f"{name}: every pip entry must be a pin, no paths"
    (tmp_path / "requirements.txt").write_text("\n".join(pip) + "\n")
    uv = _uv()
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "VIRTUAL_ENV": ""}
    made = subprocess.run([uv, "venv", "-q", "--python", envs.PYTHON, str(tmp_path / "venv")],
                          env=env, capture_output=True, text=True, check=False, timeout=120)
    if made.returncode and "No interpreter found" in made.stderr:
        pytest.skip(f"no Python {envs.PYTHON} on this machine (the envs pin for {envs.PYTHON})")
    assert made.returncode == 0, made.stderr
    py = str(tmp_path / "venv" / "bin" / "python")
    for cmd in ([uv, "pip", "install", "-q", "--no-deps", "--python", py,
                 "-r", str(tmp_path / "requirements.txt")],
                [uv, "pip", "check", "--python", py]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False,
                              timeout=600)
        assert done.returncode == 0, f"{' '.join(cmd[:3])} for {name}:\n{done.stdout}{done.stderr}"
    return py, {**env, "PYTHONPATH": str(REPO / "src")}


def _check_imports(py: str, env: dict[str, str], modules: list[str], tmp_path, name: str) -> None:
    code = "import importlib, sys\nfor m in sys.argv[1:]: importlib.import_module(m)\nprint('ok')"
    ran = subprocess.run([py, "-c", code, *modules], cwd=tmp_path, capture_output=True, text=True,
                         env=env, timeout=600, check=False)
    assert ran.returncode == 0 and ran.stdout.strip() == "ok", \
        f"{name} cannot import {modules}:\n{ran.stderr[-3000:]}"
    # Nothing leaked in from the project's own .venv.
    where = subprocess.run([py, "-c", "import numpy; print(numpy.__file__)"],
                           capture_output=True, text=True, check=False, timeout=120)
    assert str(tmp_path) in where.stdout


@pytest.mark.parametrize("stage", sorted(envs.STAGES))
def test_env_pip_part_installs_and_imports_its_stage(stage, tmp_path):
    py, env = _install(REPO / "envs" / f"{stage}.yaml", tmp_path)
    _check_imports(py, env, sorted(stage_modules()[stage]), tmp_path, f"envs/{stage}.yaml")


def test_project_env_runs_the_demo(tmp_path):
    """The demo runs from the project env (environment.yml), not from a stage env."""
    py, env = _install(REPO / "environment.yml", tmp_path)
    _check_imports(py, env, sorted(_imports(REPO / "demo" / "app.py")), tmp_path, "environment.yml")
    # The demo's own imports (gradio) and argument parsing.
    ran = subprocess.run([py, str(REPO / "demo" / "app.py"), "--help"], capture_output=True,
                         text=True, env=env, timeout=300, check=False)
    assert ran.returncode == 0 and "--models" in ran.stdout, ran.stderr[-3000:]
