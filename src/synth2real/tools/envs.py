"""Conda environments generated from `uv.lock`, so the two can never drift.

`environment.yml` (the whole project, for conda/mamba users) and one
`envs/<stage>.yaml` per workflow stage (for `snakemake --sdm conda`) pin
exactly the versions `uv.lock` resolved for Linux and the Python version
below. Regenerate after `uv lock` with

    synth2real envs           # rewrite the files (make envs)
    synth2real envs --check   # exit 1 if any file differs (CI)
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

from packaging.markers import Marker

REPO = Path(__file__).resolve().parents[2]
# The Python of the conda environments (and of the CUDA container).
PYTHON = "3.11"
_MARKER_ENV = {"python_version": PYTHON, "python_full_version": f"{PYTHON}.0",
               "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64",
               "implementation_name": "cpython", "platform_python_implementation": "CPython",
               "os_name": "posix"}

# Stage -> (what runs in it, the packages it imports). Every stage runs its
# rules through synth2real.smk, which sets torch's thread count, so torch is in all
# that run rules. The package itself comes from the checkout (PYTHONPATH, set by
# the Snakefile), never from a path inside the env file: Snakemake copies env
# files to .snakemake/conda/, where a relative `-e ../` names the wrong folder.
STAGES: dict[str, tuple[str, list[str]]] = {
    "generate": ("Stable Diffusion generation of the synthetic images",
                 ["torch", "diffusers", "accelerate", "huggingface-hub", "transformers",
                  "safetensors", "numpy", "pillow", "pydantic", "pyyaml", "tqdm"]),
    "train": ("manifests, backbone export, feature extraction, head training, adaptation",
              ["torch", "torchvision", "onnx", "onnxscript", "onnxruntime", "numpy", "pillow",
               "pydantic", "pyyaml", "scikit-learn", "scipy", "tqdm"]),
    "report": (("summary, tables, figures and the paper (the PDF build also needs a TeX "
                "installation with latexmk, see README)"),
               ["torch", "matplotlib", "numpy", "pillow", "pydantic", "pyyaml", "scipy", "scikit-learn"]),
    "demo": ("ONNX export checks and the Gradio demo",
             ["torch", "gradio", "onnxruntime", "numpy", "pillow", "pydantic", "pyyaml"]),
}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _applies(entry: Mapping) -> bool:
    marker = entry.get("marker")
    return marker is None or Marker(marker).evaluate(_MARKER_ENV)


def _lock_packages(lock_path: str | Path) -> dict[str, dict]:
    """package -> its uv.lock entry resolved for Linux x86_64 and `PYTHON` (one per package)."""
    lock = tomllib.loads(Path(lock_path).read_text())
    out: dict[str, dict] = {}
    for pkg in lock["package"]:
        markers = pkg.get("resolution-markers")
        if markers and not any(Marker(m).evaluate(_MARKER_ENV) for m in markers):
            continue  # resolved for another Python version
        out[_norm(pkg["name"])] = pkg
    return out


def locked_versions(lock_path: str | Path = REPO / "uv.lock") -> dict[str, str]:
    """package -> version uv.lock resolved for Linux and `PYTHON` (one per package)."""
    return {name: pkg["version"] for name, pkg in _lock_packages(lock_path).items()}


def closure(packages: Sequence[str], lock_path: str | Path = REPO / "uv.lock") -> list[str]:
    """`packages` and everything they need on Linux x86_64 / `PYTHON`, by uv.lock's graph
    (extras followed), sorted: the full pinned set, so pip resolves nothing itself."""
    lock = _lock_packages(lock_path)
    missing = [p for p in packages if _norm(p) not in lock]
    if missing:
        raise KeyError(f"{missing} not in uv.lock; add them to pyproject.toml and `uv lock`")
    seen: set[str] = set()
    todo = [(_norm(p), ()) for p in packages]
    while todo:
        name, extras = todo.pop()
        pkg = lock[name]
        if name not in seen:
            seen.add(name)
            todo += [(_norm(d["name"]), tuple(d.get("extra", ())))
                     for d in pkg.get("dependencies", []) if _applies(d)]
        for extra in extras:
            todo += [(_norm(d["name"]), tuple(d.get("extra", ())))
                     for d in pkg.get("optional-dependencies", {}).get(extra, []) if _applies(d)]
    return sorted(seen - {"synth2real"})


def project_dependencies(pyproject: str | Path = REPO / "pyproject.toml") -> list[str]:
    """Names of the project's runtime dependencies plus its `cpu` extra, in pyproject order."""
    proj = tomllib.loads(Path(pyproject).read_text())["project"]
    reqs = [*proj["dependencies"], *proj["optional-dependencies"]["cpu"]]
    return [_norm(re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0]) for r in reqs]


def render(name: str, description: str, packages: Sequence[str], lock_path: Path) -> str:
    versions = locked_versions(lock_path)
    pinned = closure(packages, lock_path)
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
        *(f"      - {p}=={versions[p]}" for p in pinned),
        "",
    ]
    return "\n".join(lines)


def generate(repo: Path = REPO) -> dict[Path, str]:
    """path -> text of environment.yml and every envs/<stage>.yaml."""
    lock = repo / "uv.lock"
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
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only report files that differ")
    args = ap.parse_args(argv)
    stale = []
    for path, text in generate().items():
        if path.is_file() and path.read_text() == text:
            continue
        if args.check:
            stale.append(str(path.relative_to(REPO)))
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(REPO)}")
    if stale:
        print("out of date with uv.lock (run `synth2real envs` or `make envs`): " + ", ".join(stale),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
