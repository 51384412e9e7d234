"""Shared fixtures: the offline bundle, a tiny slice of it, and workflow runs on both.

Every test is offline. `BUNDLE` (set by `make test`) points at the offline
bundle; the tiny slice is a folder of symlinks into it with the same layout,
small enough for a complete workflow run in about a minute.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
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


PIXEL_PARTS = ("fda", "simgan", "cyclegan", "mrgan")
# The GANs at a few steps of tiny networks: the tiny run checks the pipeline, not the refiners.
TINY_GAN = {"ngf": 4, "ndf": 4, "blocks": 1, "schedule": {"steps": 6, "batch_size": 4,
                                                          "checkpoint_every": 4}}
TINY_PIXEL = {
    "fda": {"beta": 0.09},
    "simgan": {"channels": 4, "blocks": 1, "history": 16, "pretrain_refiner": 3,
               "pretrain_discriminator": 2, "schedule": {"steps": 4, "batch_size": 8,
                                                         "checkpoint_every": 4}},
    "cyclegan": TINY_GAN,
    "mrgan": {"stage1": TINY_GAN, "stage2": TINY_GAN},
}


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
    # threshold-sweep figure, the DANN t-SNE panel, the block caches) and every way the engine
    # gets a model (trained, pseudo-labelled from another variant's models, shared with another
    # variant, with the last block trained), sized for seconds.
    cfg["methods"].update(variants={
        "threshold-0.34": {"pseudo_labels": {"kind": "threshold", "threshold": 0.34}},
        "adabn": {"target": "adabn"},
        "align": {"source": "aligned"},
        "align+adabn+pl": {"source": "aligned", "target": "adabn", "pseudo_labels": "threshold"},
        "dann": {"trainer": {"kind": "dann", "epochs": 3, "bottleneck": 16, "hidden": 16}},
        "align+mcc": {"source": "aligned", "trainer": {"kind": "mcc", "bottleneck": 16}},
        "block": {"trainable": {"kind": "last_block", "epochs": 2}},
        # SHOT (both stages), the label-shift corrections, an ensemble with a prior, and SHOT
        # on the last block: every part of a label-free model worth deploying.
        "align+shot": {"source": "aligned", "trainer": {"kind": "shot", "bottleneck": 16,
                                                         "adapt_epochs": 2}},
        "align+mcc+bbse": {"source": "aligned", "trainer": {"kind": "mcc", "bottleneck": 16},
                           "prior": "bbse"},
        "align+ens+em": {"source": "aligned", "ensemble": {"members": ["align", "align+mcc",
                                                                        "align+shot"]},
                         "prior": "em"},
        "block+shot": {"trainer": {"kind": "shot", "bottleneck": 16, "adapt_epochs": 1},
                       "trainable": {"kind": "last_block", "epochs": 1}},
        # Every pixel-level part, its refiner trained for a handful of steps on 32 px images.
        **{p: {"source": {"features": "aligned", "pixel": p}} for p in PIXEL_PARTS},
    }, domain_sample=40, pixel=TINY_PIXEL)
    # Model selection among the feature-level methods and the ensemble, by EnsV (as offline).
    cfg["evaluation"]["candidates"] = ["dann", "align+mcc", "align+shot", "align+mcc+bbse",
                                       "align+ens+em", "block+shot"]
    cfg["methods"]["adabn"].update(images=16, batch_size=8)
    # The labeled-budget track at one budget and all photos: real-only (its `all` is the
    # oracle's models) and bridged transfer with the last block trained, whose stage 1 no
    # study variant trains (the track's own `bridged@start`: 3 epochs, `block` has 2).
    block = {"kind": "last_block", "epochs": 3}
    cfg["budgets"].update(per_class=[1, "all"], real_only="real-only", claims=None, methods={
        "real-only": {"target_labels": "only"},
        "bridged": {"target_labels": {"use": "bridged", "start": {"trainable": block}},
                    "trainable": block}})
    for key, value in overrides.items():
        set_key(cfg, key, value)
    return cfg


def set_key(cfg: dict, key: str, value: object) -> dict:
    """Set the dotted `key` (e.g. "real.source.root") of a raw config mapping; returns `cfg`."""
    *path, last = key.split(".")
    node = cfg
    for p in path:
        node = node.setdefault(p, {})
    node[last] = value
    return cfg


def write_config(cfg: dict, path: Path) -> Path:
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


# The profile the README's commands (the Makefile's SMK) use.
LOCAL_PROFILE = REPO / "profiles" / "local"
# Seconds before a hung subprocess is killed. A test body has 600 s (pyproject's pytest
# timeout); a subprocess in it gets less, so a hang fails with the subprocess's own output.
# Fixtures are not under that limit: the shared tiny run (about 2.5 min on two free cores,
# more when CI shares them) gets 20 min, `make reproduce` of the offline study an hour.
SNAKEMAKE_TIMEOUT = 540
TINY_RUN_TIMEOUT = 1200
COMMAND_TIMEOUT = 300


def run_command(cmd: Sequence[str], *, timeout: float = COMMAND_TIMEOUT, env: dict | None = None,
                cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `cmd` in its own process group, captured; past `timeout` seconds (or when the test
    is interrupted, e.g. by pytest-timeout) the whole group is killed, so no job outlives it."""
    proc = subprocess.Popen(list(map(str, cmd)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=cwd, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        raise AssertionError(f"timed out after {timeout} s: {' '.join(map(str, cmd))}\n"
                             f"{out[-4000:]}\n{err[-6000:]}") from None
    except BaseException:
        _kill_group(proc)
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _kill_group(proc: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=10)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def user_env() -> dict[str, str]:
    """This environment without the variables of a surrounding `make test` (MAKEFLAGS...)."""
    return {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}


def smk_env(**extra: str) -> dict[str, str]:
    """The environment `make` gives Snakemake: SYNTH2REAL_GPUS (the profile's `gpu` resource)
    from profiles/local/visible-gpus unless already set."""
    env = user_env()
    if "SYNTH2REAL_GPUS" not in env:
        env["SYNTH2REAL_GPUS"] = subprocess.run(
            [str(LOCAL_PROFILE / "visible-gpus")], capture_output=True, text=True, check=True,
            timeout=30).stdout.strip()
    return {**env, **extra}


def run_snakemake(workdir: Path, configfile: Path, *args: str, bundle: Path | None = None,
                  check: bool = True, timeout: float = SNAKEMAKE_TIMEOUT,
                  env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the real workflow as the Makefile's SMK does (`--workflow-profile profiles/local`,
    `--directory`, `--cores`, `--configfile`, `--config bundle=`), then `args`. Targets go
    after "--": `--configfile` and `--config` take every word after them."""
    cmd = [str(SNAKEMAKE), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--workflow-profile", str(LOCAL_PROFILE), "--cores", "2", "--configfile", str(configfile)]
    if bundle is not None:
        cmd += ["--config", f"bundle={bundle}"]
    cmd += list(args)
    proc = run_command(cmd, timeout=timeout, env=smk_env(**(env or {})))
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


def run_make(*args: str, check: bool = True, env: dict | None = None,
             timeout: float = 3600) -> subprocess.CompletedProcess:
    """A README command, `make <args>`, run in the checkout as a user would type it.
    A surrounding `make test` must not leak its own variables (MAKEFLAGS) into it.
    The default timeout fits `make reproduce` of the offline study; shorter commands pass less."""
    proc = run_command(["make", "--no-print-directory", "-C", str(REPO), *args],
                       env={**user_env(), **(env or {})}, timeout=timeout)
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
    """Working directory of one complete workflow run on the tiny slice, run as `make reproduce`
    runs it (profiles/local). Shared by the whole session: tests that need other runs copy it."""
    workdir = tmp_path_factory.mktemp("tiny-run")
    cfg = write_config(tiny_config(), workdir / "tiny.yaml")
    run_snakemake(workdir, cfg, bundle=tiny_bundle, timeout=TINY_RUN_TIMEOUT)
    return workdir


# The demo's settings in the shared server: not the defaults (0.6, 10 MB), so a test sees
# that the `demo:` section of --config reaches the server.
DEMO_UNSURE = 0.75
DEMO_MAX_UPLOAD_MB = 1  # small, so an over-limit upload in a test stays small too


@pytest.fixture(scope="session")
def demo_url(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory):
    """URL of one demo server (demo/app.py as its own process) on the tiny run's models,
    with the tiny run's test photos as examples; shared by the API and browser tests."""
    from synth2real.tools.bench_serving import running_demo

    d = tmp_path_factory.mktemp("demo")
    cfg = d / "demo.yaml"
    cfg.write_text(f"demo:\n  unsure_threshold: {DEMO_UNSURE}\n  max_upload_mb: {DEMO_MAX_UPLOAD_MB}\n")
    with running_demo(tiny_run / "models", d / "demo.log",
                      examples_csv=tiny_run / "results" / "data" / "real_test.csv",
                      config=cfg) as url:
        yield url
