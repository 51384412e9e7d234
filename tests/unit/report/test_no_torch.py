"""The report runs in an environment without torch: no report module imports it, even indirectly."""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys

import synth2real.report
from tests.conftest import REPO


def test_no_report_module_imports_torch():
    modules = ["synth2real.report"] + [
        m.name for m in pkgutil.walk_packages(synth2real.report.__path__, "synth2real.report.")]
    assert "synth2real.report.figures.sample_grid" in modules and len(modules) > 10
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO / "src")}, check=False)
    assert proc.returncode == 0, proc.stderr
