"""`make bench`'s study time beside its floor: what it counts, the ratio, the printed lines."""

from __future__ import annotations

import json
import re

import pytest

from synth2real.config import load
from synth2real.tools import bench_study
from tests.conftest import tiny_config


def test_ratio_is_the_study_sum_over_the_backbone_passes():
    t = bench_study.StudyTime(floor_images=1000, ort_ips=200.0, train_s=12.0, jobs=4, start_s=0.5)
    assert t.floor_s == pytest.approx(5.0)
    assert t.study_s == pytest.approx(5.0 + 12.0 + 4 * 0.5)
    assert t.ratio == pytest.approx(19.0 / 5.0)
    lines = bench_study.report(t)
    assert re.search(r"floor: backbone passes +5\.0 s \(1000 images at 200\.0 images/s", lines[0])
    assert re.search(r"process starts +2\.0 s \(4 x 0\.50 s\)", lines[2])
    assert re.search(r"ratio study / floor +3\.80x$", lines[-1])
    assert "quick" in bench_study.report(t, quick=True)[1]
    cost = bench_study.ModelCost("linear head", seconds=0.5, flops=2e9, bytes=4e9, flop_rate=1e10,
                                 byte_rate=1e10)
    assert cost.floor_s == pytest.approx(0.4)  # the bytes bound: 4e9 / 1e10 > 2e9 / 1e10
    line = bench_study.report(t, [cost])[-1]
    assert re.search(r"one linear head .* 0\.500 core-s per model \(floor 0\.400 s: .*= 1\.2x", line)


def test_floor_counts_every_feature_pass_of_the_study():
    n = bench_study.Counts(source=30, pool=40, test=30, target_val=5, oracle=7, aligned=True, adabn=16)
    target = 3 * (5 + 7)
    assert n.floor_images(3) == (30 + 40 + 30 + target) + 30 + (40 + 30 + target + 16)
    plain = bench_study.Counts(source=30, pool=40, test=30, target_val=5, oracle=0, aligned=False,
                               adabn=0)
    assert plain.floor_images(3) == 30 + 40 + 30 + 15


def test_every_training_job_of_the_config_runs_and_writes_its_seeds(tmp_path, tiny_bundle):
    cfg = load(tiny_config(bundle=str(tiny_bundle)))
    t, per_job, costs = bench_study.measure(cfg, ort_ips=100.0, tmp=tmp_path)
    assert sorted(per_job) == sorted(cfg.training_jobs())
    assert t.jobs == len(cfg.training_jobs()) and t.train_s == pytest.approx(sum(per_job.values()))
    assert [c.kind for c in costs] == ["linear head", "bottleneck net"]
    assert all(c.seconds > 0 and c.floor_s > 0 for c in costs)
    n = bench_study.counts(cfg)
    assert n.aligned and n.adabn == 16 and n.oracle > 0
    assert t.floor_images == n.floor_images(3)
    for name in cfg.variants:
        for seed in cfg.seeds:
            metrics = json.loads((tmp_path / "heads" / name / f"seed{seed}" / "metrics.json").read_text())
            assert len(metrics["test"]["pred"]) == n.test
