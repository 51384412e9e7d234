"""Workflow-level checks: lint, dry runs of both configs, and bad input failing clearly
before or at the step concerned, without losing finished work."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO, job_counts, run_snakemake, tiny_config, write_config


def output(proc) -> str:
    return proc.stdout + proc.stderr


def test_lint_is_clean(tmp_path, bundle):
    proc = run_snakemake(tmp_path, REPO / "config" / "offline.yaml", "--lint", bundle=bundle)
    assert "Congratulations, your workflow is in a good condition" in output(proc)


def test_dry_run_offline_config(tmp_path, bundle):
    proc = run_snakemake(tmp_path, REPO / "config" / "offline.yaml", "-n", bundle=bundle)
    text = output(proc)
    assert "generate_shard" not in job_counts(proc)
    for rule in ("source_manifest", "real_manifests", "backbone", "features", "train_heads_plain_plain",
                 "train_pseudo_labels_plain_plain", "summary", "table", "figure"):
        assert f"rule {rule}:" in text
    assert not (tmp_path / "results").exists()


def test_dry_run_paper_config(tmp_path):
    proc = run_snakemake(tmp_path, REPO / "config" / "paper.yaml", "-n")
    jobs = job_counts(proc)
    # 3 classes x 1000 images in shards of 100; the model resolved once, the records merged once.
    assert jobs["generate_shard"] == 30 and jobs["generator_model"] == 1
    assert jobs["generation_manifest"] == 1 and jobs["data_card"] == 1
    assert jobs["real_download"] == 1 and jobs["train_pseudo_labels_plain_plain"] == 1


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"pseudo_label.threshold": 1.5}, "pseudo_label.threshold"),
        ({"classes": ["dog", "cat", "horse"]}, "unknown class name(s) ['horse']"),
        ({"real.source.root": "/no/such/folder"}, "'/no/such/folder' does not exist"),
    ],
)
def test_bad_config_stops_before_any_work(tmp_path, tiny_bundle, override, message):
    cfg = write_config(tiny_config(**override), tmp_path / "bad.yaml")
    proc = run_snakemake(tmp_path, cfg, bundle=tiny_bundle, check=False)
    assert proc.returncode != 0
    assert message in output(proc)
    assert not (tmp_path / "results").exists()


def test_missing_bundle_is_named(tmp_path):
    cfg = write_config(tiny_config(), tmp_path / "c.yaml")
    proc = run_snakemake(tmp_path, cfg, bundle=tmp_path / "no-bundle", check=False)
    assert proc.returncode != 0 and "no-bundle' does not exist" in output(proc)


def test_corrupt_image_and_bad_checksum_fail_their_step_and_keep_the_rest(tmp_path, tiny_bundle):
    # A private copy of the slice with one corrupt source image.
    slice_ = tmp_path / "slice"
    shutil.copytree(tiny_bundle, slice_, symlinks=True)
    victim = sorted((slice_ / "source/tiny-imagenet/cat").iterdir())[3]
    victim.unlink()
    victim.write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    cfg = write_config(tiny_config(), tmp_path / "c.yaml")
    # The failing step and two independent ones; nothing downstream (no features are computed).
    steps = ("results/data/source.csv", "results/data/real_test.csv", "results/backbone/backbone.onnx")
    proc = run_snakemake(tmp_path, cfg, "--keep-going", "--", *steps, bundle=slice_, check=False)
    assert proc.returncode != 0
    assert victim.name in output(proc) and "Remove or replace" in output(proc)
    assert job_counts(proc) == {"source_manifest": 1, "real_manifests": 1, "backbone": 1, "total": 3}
    # Independent steps finished and were kept.
    assert (tmp_path / "results/data/real_test.csv").is_file()
    assert (tmp_path / "results/backbone/backbone.onnx").is_file()
    assert not (tmp_path / "results/data/source.csv").exists()

    bad_sum = write_config(tiny_config(**{"backbone.weights.sha256": "0" * 64}), tmp_path / "s.yaml")
    proc = run_snakemake(tmp_path, bad_sum, "--keep-going", "--", *steps[1:], bundle=slice_,
                         check=False)
    assert proc.returncode != 0
    assert "have sha256 91640f83" in output(proc) and "expects 0000" in output(proc)
    assert (tmp_path / "results/data/real_test.csv").is_file()


def test_rerun_with_nothing_changed_does_nothing(tiny_run):
    cfg = Path(tiny_run) / "tiny.yaml"
    proc = run_snakemake(tiny_run, cfg, "-n", bundle=_bundle_of(tiny_run))
    assert "Nothing to be done" in output(proc)


def test_changing_threshold_reruns_adaptation_only(tiny_run, tmp_path):
    cfg = write_config(tiny_config(**{"pseudo_label.threshold": 0.9}), tmp_path / "t.yaml")
    proc = run_snakemake(tiny_run, cfg, "-n", bundle=_bundle_of(tiny_run))
    jobs = job_counts(proc)
    # The jobs of the variants that take the study's threshold, and what reads their models.
    assert jobs["train_pseudo_labels_plain_plain"] == 1
    assert jobs["train_pseudo_labels_aligned_adabn"] == 1 and jobs["summary"] == 1
    assert not {"features", "train_heads_plain_plain", "train_dann_plain_plain",
                "train_mcc_aligned_plain", "train_shared_plain_adabn"} & set(jobs)


def test_a_config_edit_the_summary_does_not_read_leaves_it(tiny_run, tmp_path):
    cfg = write_config(tiny_config(**{"demo.unsure_threshold": 0.8}), tmp_path / "d.yaml")
    proc = run_snakemake(tiny_run, cfg, "-n", bundle=_bundle_of(tiny_run))
    jobs = job_counts(proc)
    assert "summary" not in jobs and "table" not in jobs and not any(
        j.startswith("train_") for j in jobs), jobs
    assert jobs["run_provenance"] == 1  # the run's record of its whole config


def test_changing_seeds_retrains_heads_without_features(tiny_run, tmp_path):
    cfg = write_config(tiny_config(seeds=[0, 1, 2]), tmp_path / "s.yaml")
    proc = run_snakemake(tiny_run, cfg, "-n", bundle=_bundle_of(tiny_run))
    jobs = job_counts(proc)
    assert jobs["train_heads_plain_plain"] == 1 and "features" not in jobs and "backbone" not in jobs
    assert all(jobs[j] == 1 for j in jobs if j.startswith("train_"))


def _bundle_of(workdir: Path) -> Path:
    import json

    prov = json.loads((workdir / "results" / "provenance.json").read_text())
    return Path(prov["config"]["bundle"])


def test_each_configuration_has_its_own_output_root(tmp_path, bundle):
    """Run in the checkout without --directory, the workflow writes to runs/<name>/; make's
    default agrees."""
    import subprocess

    from tests.conftest import SNAKEMAKE

    name = f"pytest-root-{tmp_path.name}"
    cfg = write_config(tiny_config(name=name), tmp_path / "c.yaml")
    root = REPO / "runs" / name
    try:
        proc = subprocess.run([str(SNAKEMAKE), "-n", "-s", str(REPO / "Snakefile"), "--cores", "1",
                               "--configfile", str(cfg), "--config", f"bundle={bundle}"],
                              cwd=REPO, capture_output=True, text=True, check=False, timeout=300)
        assert proc.returncode == 0, output(proc)[-3000:]
        assert root.is_dir() and not (REPO / "results").exists()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for config, run_dir in (("config/offline.yaml", "runs/offline"), ("config/paper.yaml", "runs/paper")):
        dry = subprocess.run(["make", "-n", "-C", str(REPO), "reproduce", "demo", f"CONFIG={config}"],
                             capture_output=True, text=True, check=True, timeout=60).stdout
        assert f"--directory {run_dir} " in dry and f"--models {run_dir}/models " in dry
