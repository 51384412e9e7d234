"""The package's shape: imports flow one way, no cycles, and torch only where models run.

Layers, bottom to top (a module imports only from lower layers or its own subpackage):

    errors, predict (standalone)  <  config  <  store  <  provenance  <  data  <  model
    <  analysis  <  adapt  <  report  <  serve  <  tools  <  smk, cli
"""

from __future__ import annotations

import ast
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import synth2real
from tests.conftest import REPO, SNAKEMAKE

LAYERS = ["errors", "predict", "config", "store", "provenance", "data", "model", "analysis",
          "adapt", "report", "serve", "tools", "smk", "cli"]
RANK = {name: i for i, name in enumerate(LAYERS)}
RANK["predict"] = RANK["errors"]  # both standalone: they import nothing of the package
SRC = Path(synth2real.__file__).parent

# Modules whose jobs or callers must never load torch.
TORCH_FREE = ["synth2real.config", "synth2real.smk", "synth2real.analysis.summary",
              "synth2real.analysis.stats", "synth2real.data.sources", "synth2real.data.manifests",
              "synth2real.predict", "synth2real.provenance", "synth2real.data.resolution",
              "synth2real.report.figures.pixel_pairs"]


def modules() -> list[str]:
    return [m.name for m in pkgutil.walk_packages([str(SRC)], "synth2real.")]


def imports_of(name: str) -> set[str]:
    """Every synth2real module `name` imports, at any depth of its code (function-level too)."""
    spec_path = SRC.joinpath(*name.split(".")[1:])
    path = spec_path / "__init__.py" if spec_path.is_dir() else spec_path.with_suffix(".py")
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("synth2real"):
            base = node.module
            for alias in node.names:  # `from synth2real.model import head` imports a module
                sub = f"{base}.{alias.name}"
                out.add(sub if sub in ALL else base)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("synth2real")}
    return {m for m in out if m != "synth2real"}


ALL = set(modules())


def layer(name: str) -> str:
    return name.split(".")[1]


def test_every_module_is_in_a_layer():
    assert {layer(m) for m in ALL} <= set(RANK), "add new top-level modules to LAYERS"


def test_no_upward_import():
    upward = [f"{m} -> {i}" for m in sorted(ALL) for i in imports_of(m)
              if layer(i) != layer(m) and RANK[layer(i)] >= RANK[layer(m)]]
    assert not upward, "imports against the layer order:\n" + "\n".join(upward)


def test_no_import_cycle():
    graph = {m: imports_of(m) & ALL for m in ALL}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return [*stack[stack.index(n):], n]
            if n not in state and (cycle := visit(n)):
                return cycle
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(ALL):
        if m not in state and (cycle := visit(m)):
            pytest.fail("import cycle: " + " -> ".join(cycle))


def _loads_torch(module: str) -> bool:
    code = f"import sys, {module}; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip() == "True"


@pytest.mark.parametrize("module", TORCH_FREE + sorted(m for m in ALL if layer(m) == "report"))
def test_module_imports_no_torch(module):
    assert not _loads_torch(module), f"importing {module} loads torch"


def test_parsing_the_snakefile_imports_no_torch(bundle, tmp_path):
    """A dry run with a `torch` that fails on import: parsing and planning must not need it."""
    fake = tmp_path / "fake" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('torch imported while parsing the workflow')\n")
    env = {**os.environ, "PYTHONPATH": str(fake.parent)}
    proc = subprocess.run(
        [str(SNAKEMAKE), "-n", "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path / "run"),
         "--cores", "1", "--configfile", str(REPO / "config" / "offline.yaml"),
         "--config", f"bundle={bundle}"], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "train_pseudo_labels_plain_plain" in proc.stdout  # it planned the whole study
