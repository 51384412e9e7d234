"""Each conda env's pip part installs on its own and runs its stage's code.

Conda channels cannot be reached here, so this checks what can be checked
without them: the env's `pip:` list (the full pinned set from uv.lock) installs
into a clean venv of the env's Python with nothing resolved beyond it
(`--no-deps`; wheels from the uv cache that `make setup` filled, index pages from
the package registry), passes `pip check`, and imports every synth2real module that the scripts of the env's rules
import, with synth2real taken from the checkout's src/ as the Snakefile arranges.
"""

from __future__ import annotations

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
    text = path.read_text()
    mods = set(re.findall(r"^from (synth2real\.[\w.]+) import", text, flags=re.MULTILINE))
    for names in re.findall(r"^from synth2real import (.+)$", text, flags=re.MULTILINE):
        mods |= {f"synth2real.{n.strip()}" for n in names.split(",")}
    return mods


def stage_modules() -> dict[str, set[str]]:
    """env name -> the synth2real modules imported by the code that runs in it: the
    scripts of the rules naming it, and for `demo` the web demo (demo/app.py)."""
    out: dict[str, set[str]] = {"demo": _imports(REPO / "demo" / "app.py")}
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"^rule ", smk.read_text(), flags=re.MULTILINE)[1:]:
            env = re.search(r'conda:\s*\n\s*"\.\./\.\./envs/(\w+)\.yaml"', block)
            script = re.search(r'script:\s*\n\s*"\.\./(scripts/\w+\.py)"', block)
            if env and script:
                out.setdefault(env[1], set()).update(_imports(REPO / "workflow" / script[1]))
    return out


def test_every_stage_env_has_scripts_to_check():
    assert set(stage_modules()) == set(envs.STAGES)


@pytest.mark.parametrize("stage", sorted(envs.STAGES))
def test_env_pip_part_installs_and_imports_its_stage(stage, tmp_path):
    doc = yaml.safe_load((REPO / "envs" / f"{stage}.yaml").read_text())
    pip = next(d["pip"] for d in doc["dependencies"] if isinstance(d, dict))
    assert not [r for r in pip if not re.fullmatch(r"[A-Za-z0-9_.-]+==\S+", r)], \
        f"envs/{stage}.yaml: every pip entry must be a pin, no paths"
    (tmp_path / "requirements.txt").write_text("\n".join(pip) + "\n")
    uv = _uv()
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "VIRTUAL_ENV": ""}
    made = subprocess.run([uv, "venv", "-q", "--python", envs.PYTHON, str(tmp_path / "venv")],
                          env=env, capture_output=True, text=True, check=False)
    if made.returncode and "No interpreter found" in made.stderr:
        pytest.skip(f"no Python {envs.PYTHON} on this machine (the envs pin for {envs.PYTHON})")
    assert made.returncode == 0, made.stderr
    py = str(tmp_path / "venv" / "bin" / "python")
    for cmd in ([uv, "pip", "install", "-q", "--no-deps", "--python", py,
                 "-r", str(tmp_path / "requirements.txt")],
                [uv, "pip", "check", "--python", py]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{' '.join(cmd[:3])} for envs/{stage}.yaml:\n{done.stdout}{done.stderr}"
    modules = sorted(stage_modules()[stage])
    code = "import importlib, sys\nfor m in sys.argv[1:]: importlib.import_module(m)\nprint('ok')"
    ran = subprocess.run([py, "-c", code, *modules], cwd=tmp_path, capture_output=True, text=True,
                         env={**env, "PYTHONPATH": str(REPO / "src")}, timeout=600, check=False)
    assert ran.returncode == 0 and ran.stdout.strip() == "ok", \
        f"envs/{stage}.yaml cannot import {modules}:\n{ran.stderr[-3000:]}"
    if stage == "demo":  # the demo's own imports (gradio) and argument parsing
        ran = subprocess.run([py, str(REPO / "demo" / "app.py"), "--help"], capture_output=True,
                             text=True, env={**env, "PYTHONPATH": str(REPO / "src")}, timeout=300, check=False)
        assert ran.returncode == 0 and "--models" in ran.stdout, ran.stderr[-3000:]
    # Nothing leaked in from the project's own .venv.
    where = subprocess.run([py, "-c", "import numpy; print(numpy.__file__)"], capture_output=True, text=True, check=False)
    assert str(tmp_path) in where.stdout
