"""Conda environments generated from `uv.lock`, so the two can never drift.

`environment.yml` (the whole project, for conda/mamba users) and one
`envs/<stage>.yaml` per workflow stage (for `snakemake --sdm conda`) pin
exactly the versions `uv.lock` resolved for Linux and the Python version
below. Regenerate after `uv lock` with

    synth2real envs           # rewrite the files, remove stray envs/*.yaml (make envs)
    synth2real envs --check   # exit 1 if any file differs or is stray (CI)

run inside the checkout (it reads uv.lock and pyproject.toml there).
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from packaging.markers import Marker

from synth2real.tools.checkout import find_checkout

# The Python of the conda environments (and of the CUDA container).
PYTHON = "3.11"
_MARKER_ENV = {"python_version": PYTHON, "python_full_version": f"{PYTHON}.0",
               "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64",
               "implementation_name": "cpython", "platform_python_implementation": "CPython",
               "os_name": "posix"}

# Stage -> (what runs in it, the packages its rules import). Only the stages that
# extract features, train or export import torch: synth2real.smk sets torch's
# thread count only when a stage's module already imported it, so the report env
# (summary, tables, figures, LaTeX) has none. The demo runs from the project env
# (environment.yml), not from a stage env. The package itself comes from the
# checkout (PYTHONPATH, set by the Snakefile), never from a path inside the env
# file: Snakemake copies env files to .snakemake/conda/, where a relative `-e ../`
# names the wrong folder.
STAGES: dict[str, tuple[str, list[str]]] = {
    "generate": ("Stable Diffusion generation of the synthetic images",
                 ["torch", "diffusers", "accelerate", "huggingface-hub", "transformers",
                  "safetensors", "numpy", "pillow", "pydantic", "pyyaml", "tqdm"]),
    "train": ("manifests, backbone export, feature extraction, head training, adaptation",
              ["torch", "torchvision", "onnx", "onnxscript", "onnxruntime", "numpy", "pillow",
               "pydantic", "pyyaml", "scikit-learn", "scipy", "tqdm"]),
    "report": (("summary, tables, figures and the paper (the PDF build also needs a TeX "
                "installation with latexmk, see README)"),
               ["matplotlib", "numpy", "pillow", "pydantic", "pyyaml", "scipy", "scikit-learn"]),
}

# uv.lock's packages resolved for Linux x86_64 and PYTHON: normalised name -> entry.
Lock = Mapping[str, Mapping[str, Any]]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _applies(entry: Mapping[str, Any]) -> bool:
    marker = entry.get("marker")
    return marker is None or Marker(marker).evaluate(_MARKER_ENV)


def read_lock(lock_path: str | Path) -> dict[str, dict[str, Any]]:
    """package -> its uv.lock entry resolved for Linux x86_64 and `PYTHON` (one per package)."""
    lock = tomllib.loads(Path(lock_path).read_text())
    out: dict[str, dict[str, Any]] = {}
    for pkg in lock["package"]:
        markers = pkg.get("resolution-markers")
        if markers and not any(Marker(m).evaluate(_MARKER_ENV) for m in markers):
            continue  # resolved for another Python version
        out[_norm(pkg["name"])] = pkg
    return out


def locked_versions(lock_path: str | Path | None = None) -> dict[str, str]:
    """package -> version uv.lock resolved for Linux and `PYTHON` (default: the checkout's lock)."""
    lock = read_lock(lock_path or find_checkout() / "uv.lock")
    return {name: pkg["version"] for name, pkg in lock.items()}


def closure(packages: Sequence[str], lock: Lock) -> list[str]:
    """`packages` and everything they need on Linux x86_64 / `PYTHON`, by uv.lock's graph
    (extras followed), sorted: the full pinned set, so pip resolves nothing itself."""
    missing = [p for p in packages if _norm(p) not in lock]
    if missing:
        raise KeyError(f"{missing} not in uv.lock; add them to pyproject.toml and `uv lock`")

    def needs(deps: Sequence[Mapping[str, Any]]) -> list[tuple[str, tuple[str, ...]]]:
        return [(_norm(d["name"]), tuple(d.get("extra", ()))) for d in deps if _applies(d)]

    seen: set[str] = set()
    todo: list[tuple[str, tuple[str, ...]]] = [(_norm(p), ()) for p in packages]
    while todo:
        name, extras = todo.pop()
        pkg = lock[name]
        if name not in seen:
            seen.add(name)
            todo += needs(pkg.get("dependencies", []))
        for extra in extras:
            todo += needs(pkg.get("optional-dependencies", {}).get(extra, []))
    return sorted(seen - {"synth2real"})


def project_dependencies(pyproject: str | Path) -> list[str]:
    """Names of the project's runtime dependencies plus its `cpu` extra, in pyproject order."""
    proj = tomllib.loads(Path(pyproject).read_text())["project"]
    reqs = [*proj["dependencies"], *proj["optional-dependencies"]["cpu"]]
    return [_norm(re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0]) for r in reqs]


def render(name: str, description: str, packages: Sequence[str], lock: Lock) -> str:
    """One env file: `packages` and all they need, each pinned at its `lock` version."""
    lines = [
        f"# Conda env: {description}.",
        "# Generated from uv.lock by `synth2real envs`; do not edit (a test keeps them equal).",
        (f"# The full pinned set for Linux x86_64, Python {PYTHON}: {len(packages)} direct packages "
         f"({', '.join(packages)}) and all they need."),
        "# synth2real itself is not installed: the Snakefile puts the checkout's src/ on",
        "# PYTHONPATH, which holds wherever Snakemake copies this file.",
        f"name: {name}",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        f"  - python={PYTHON}",
        "  - pip",
        "  - pip:",
        *(f"      - {p}=={lock[p]['version']}" for p in closure(packages, lock)),
        "",
    ]
    return "\n".join(lines)


def generate(repo: Path | None = None) -> dict[Path, str]:
    """path -> text of environment.yml and every envs/<stage>.yaml (default: this checkout's)."""
    repo = repo or find_checkout()
    lock = read_lock(repo / "uv.lock")
    files = {repo / "environment.yml": render(
        "synth2real", "the whole synth2real project (CPU onnxruntime; the CUDA container uses "
        "onnxruntime-gpu); run from the checkout with PYTHONPATH=src",
        project_dependencies(repo / "pyproject.toml"), lock)}
    for stage, (what, packages) in STAGES.items():
        files[repo / "envs" / f"{stage}.yaml"] = render(
            f"synth2real-{stage}", f"the `{stage}` stage ({what}), for `snakemake --sdm conda`",
            packages, lock)
    return files


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only report files that differ")
    args = ap.parse_args(argv)
    repo = find_checkout()
    files = generate(repo)
    # An envs/*.yaml of no stage would still be picked up by people and tests: remove it.
    stray = sorted(set((repo / "envs").glob("*.yaml")) - set(files))
    stale = [p for p, text in files.items() if not (p.is_file() and p.read_text() == text)]
    if args.check:
        if stale or stray:
            print("out of date with uv.lock (run `synth2real envs` or `make envs`): "
                  + ", ".join(str(p.relative_to(repo)) for p in stale + stray), file=sys.stderr)
            return 1
        return 0
    for path in stale:
        path.write_text(files[path])
        print(f"wrote {path.relative_to(repo)}")
    for path in stray:
        path.unlink()
        print(f"removed {path.relative_to(repo)} (no such stage)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
