"""Shared fixtures: the offline bundle, a tiny slice of it, and workflow runs on both.

Every test is offline. `BUNDLE` (set by `make test`) points at the offline
bundle; the tiny slice is a folder of symlinks into it with the same layout,
small enough for a complete workflow run in about a minute.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"

# Tiny-slice sizes: enough images for every split and the out-of-domain pool share.
TINY_SOURCE_PER_CLASS = 30
TINY_REAL_PER_CLASS = 40
TINY_OOD_CLASSES = ("airplane", "truck")
TINY_OOD_PER_CLASS = 10


def bundle_path() -> Path:
    return Path(os.environ.get("BUNDLE", REPO.parent / "shared" / "bundle")).resolve()


@pytest.fixture(scope="session")
def bundle() -> Path:
    path = bundle_path()
    if not (path / "weights" / "mobilenet_v2_imagenet.pth").is_file():
        pytest.fail(f"offline bundle not found at {path}; run `make test BUNDLE=<bundle dir>`")
    return path


def make_tiny_bundle(bundle: Path, dest: Path) -> Path:
    """A bundle-shaped folder of symlinks: a few images per class, same weights."""
    src = bundle / "source" / "tiny-imagenet"
    for cls in ("dog", "cat", "bird"):
        _link_first(src / cls, dest / "source" / "tiny-imagenet" / cls, TINY_SOURCE_PER_CLASS)
        _link_first(bundle / "target" / "cifar10" / cls, dest / "target" / "cifar10" / cls,
                    TINY_REAL_PER_CLASS)
    for cls in TINY_OOD_CLASSES:
        _link_first(bundle / "target" / "cifar10" / cls, dest / "target" / "cifar10" / cls,
                    TINY_OOD_PER_CLASS)
    (dest / "weights").mkdir(parents=True, exist_ok=True)
    (dest / "weights" / "mobilenet_v2_imagenet.pth").symlink_to(
        bundle / "weights" / "mobilenet_v2_imagenet.pth")
    return dest


def _link_first(src: Path, dst: Path, n: int) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for f in sorted(src.iterdir())[:n]:
        (dst / f.name).symlink_to(f)


def tiny_config(**overrides: object) -> dict:
    """config/offline.yaml shrunk to the tiny slice (sizes, seeds, epochs, 64 px input)."""
    cfg = yaml.safe_load((REPO / "config" / "offline.yaml").read_text())
    cfg["synthetic"]["sizes"] = [10, 20]
    cfg["real"].update(test_per_class=10, pool_size=40, target_val_per_class=5)
    cfg["pseudo_label"]["source_size"] = 20
    cfg["seeds"] = [0, 1]
    cfg["train"]["epochs"] = 3
    cfg["backbone"]["image_size"] = 64
    cfg["features"]["batch_size"] = 16
    # A few methods that exercise every extra rule (both extra feature passes, the
    # threshold-sweep figure, the DANN t-SNE panel), sized for seconds.
    cfg["methods"].update(variants={
        "threshold-0.34": {"select": "threshold", "threshold": 0.34},
        "threshold-0.51": {"select": "threshold", "threshold": 0.51},
        "align+adabn+pl": {"source": "aligned", "target": "adabn", "select": "threshold"},
        "dann": {"trainer": "dann"},
        "align+mcc": {"source": "aligned", "trainer": "mcc"},
    }, domain_sample=40)
    cfg["methods"]["adabn"].update(images=16, batch_size=8)
    cfg["methods"]["dann"].update(epochs=3, bottleneck=16, hidden=16)
    cfg["methods"]["mcc"].update(bottleneck=16)
    for key, value in overrides.items():
        node = cfg
        *path, last = key.split(".")
        for p in path:
            node = node[p]
        node[last] = value
    return cfg


def write_config(cfg: dict, path: Path) -> Path:
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def run_snakemake(workdir: Path, configfile: Path, *args: str, bundle: Path | None = None,
                  check: bool = True) -> subprocess.CompletedProcess:
    """Run the real workflow (repo Snakefile) with `workdir` as its working directory."""
    cmd = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--cores", "2", "--configfile", str(configfile)]
    if bundle is not None:
        cmd += ["--config", f"bundle={bundle}"]
    cmd += list(args)
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


def run_make(*args: str, check: bool = True, env: dict | None = None,
             timeout: float = 3600) -> subprocess.CompletedProcess:
    """A README command, `make <args>`, run in the checkout as a user would type it.
    A surrounding `make test` must not leak its own variables (MAKEFLAGS) into it."""
    base = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    proc = subprocess.run(["make", "--no-print-directory", "-C", str(REPO), *args], check=False,
                          capture_output=True, text=True, env={**base, **(env or {})}, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"make {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


def job_counts(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """The 'Job stats' table of a (dry) run: rule -> number of jobs."""
    lines = (proc.stdout + proc.stderr).split("Job stats:")[1].splitlines()[3:]
    counts = {}
    for line in lines:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        counts[parts[0]] = int(parts[1])
    return counts


@pytest.fixture(scope="session")
def tiny_bundle(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_bundle(bundle, tmp_path_factory.mktemp("tiny-bundle"))


@pytest.fixture(scope="session")
def tiny_run(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Working directory of one complete workflow run on the tiny slice."""
    workdir = tmp_path_factory.mktemp("tiny-run")
    cfg = write_config(tiny_config(), workdir / "tiny.yaml")
    run_snakemake(workdir, cfg, bundle=tiny_bundle)
    return workdir
