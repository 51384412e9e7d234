"""The generation rules in a real Snakemake run, with the tiny pipeline as the generator.

The shards write per-class folders that `rule source_manifest` consumes, the
data card is built from the shard records, a rerun does nothing, and a forced
shard regenerates only a lost image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synth2real.data import manifests
from tests.conftest import run_snakemake, tiny_config, write_config

CLASSES = ["dog", "cat"]
# The shards ask for gpu=1, which profiles/local caps at SYNTH2REAL_GPUS (0 without a GPU);
# the tiny pipeline runs on the CPU, so one slot lets them start as on a one-GPU machine.
ONE_GPU = {"SYNTH2REAL_GPUS": "1"}


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.tiny_pipeline import save_tiny_pipeline

    return save_tiny_pipeline(tmp_path_factory.mktemp("tiny-sd-wf") / "pipeline")


@pytest.fixture(scope="module")
def generated(tiny_sd: Path, tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("generate-run")
    # Targets follow "--": run_snakemake ends with `--configfile F [--config bundle=B]`, whose
    # lists would swallow them; the bundle goes into the config file.
    cfg = tiny_config(**{"classes": CLASSES, "synthetic.sizes": [5, 8], "pseudo_label.source_size": 8,
                         "bundle": str(tiny_bundle)})
    cfg["synthetic"]["source"] = {
        "kind": "diffusers", "model_id": str(tiny_sd), "resolution": 64, "steps": 2,
        "batch_size": 4, "shard_size": 5, "out_dir": "data/synthetic",
    }
    configfile = write_config(cfg, workdir / "generate.yaml")
    run_snakemake(workdir, configfile, "--", "results/data/source.csv", "paper/tables/data_card.md",
                  env=ONE_GPU)
    return workdir, configfile


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.int16)


def test_shards_fill_class_folders_that_the_source_manifest_consumes(generated):
    workdir, _ = generated
    for cls in CLASSES:
        names = sorted(p.name for p in (workdir / "data" / "synthetic" / cls).iterdir())
        assert names == [f"{i:06d}.png" for i in range(8)]
        for k in (0, 1):
            assert (workdir / "results" / "generate" / cls / f"shard{k}.csv").is_file()
        assert (workdir / "results" / "logs" / "generate" / cls / "shard0.log").stat().st_size > 0
    rows = manifests.read_csv(workdir / "results" / "data" / "source.csv")
    assert len(rows) == 16
    for r in rows:
        assert r["path"] == f"data/synthetic/{r['label']}/{int(r['rank']):06d}.png"
    records = manifests.read_csv(workdir / "results" / "generate" / "manifest.csv")
    assert [(r["class"], int(r["index"])) for r in records] == [(c, i) for c in CLASSES for i in range(8)]
    card = (workdir / "paper" / "tables" / "data_card.md").read_text()
    assert "| dog | 8 | 1 | 7.5 | 0 |" in card and "| all | 16 |" in card
    assert "dpm-multistep, 2 steps" in card and "64x64 px" in card


def test_rerun_is_a_no_op_and_jobs_ask_for_a_gpu(generated):
    workdir, configfile = generated
    proc = run_snakemake(workdir, configfile, "--", "results/data/source.csv", "paper/tables/data_card.md",
                         env=ONE_GPU)
    assert "Nothing to be done" in proc.stdout + proc.stderr
    dry = run_snakemake(workdir, configfile, "-n", "--forcerun", "generate_shard", "--",
                        "results/generate/manifest.csv", env=ONE_GPU)
    out = dry.stdout + dry.stderr
    assert out.count("rule generate_shard:") == 4 and "gpu=1" in out


def test_a_forced_shard_regenerates_only_a_lost_image(generated):
    """Snakemake does not see a file deleted inside a finished shard; forcing the shard makes
    it verify its images (sha256 against the records) and redo only what is missing."""
    workdir, configfile = generated
    folder = workdir / "data" / "synthetic" / "cat"
    lost = folder / "000006.png"
    original = _pixels(lost)
    lost.unlink()
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    run_snakemake(workdir, configfile, "--forcerun", "results/generate/cat/shard1.csv", "--",
                  "results/data/source.csv", env=ONE_GPU)
    after = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert sorted(after) == [f"{i:06d}.png" for i in range(8)]
    assert {n: after[n] for n in before} == before
    assert np.abs(_pixels(lost) - original).max() <= 1
    log = (workdir / "results" / "logs" / "generate" / "cat" / "shard1.log").read_text()
    assert "2 done, 1 missing" in log and "1 images generated" in log
    rows = manifests.read_csv(workdir / "results" / "data" / "source.csv")
    assert sum(r["path"] == "data/synthetic/cat/000006.png" for r in rows) == 1
