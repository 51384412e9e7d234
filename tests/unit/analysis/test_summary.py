"""The summary's science on synthetic per-seed metrics with known answers:
bootstrap intervals, the oracle's gap closure, model selection with regret, claim verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from synth2real.analysis.summary import Setup, build
from synth2real.config import CRITERIA, load
from tests.unit.config.test_config import offline_raw

N = 600  # test images
SEEDS = [0, 1, 2]
# variant -> (test accuracy, criterion scores): "good" is the test-best candidate and the
# labeled target val finds it; source val accuracy prefers the source-only model.
PLAN = {
    "synthetic-500": (0.50, {"source_val_acc": 0.95, "target_val_acc": 0.45}),
    "synthetic-1000": (0.60, {"source_val_acc": 0.99, "target_val_acc": 0.55}),
    "pseudo-label": (0.61, {"source_val_acc": 0.98, "target_val_acc": 0.58}),
    "good": (0.80, {"source_val_acc": 0.90, "target_val_acc": 0.78}),
    "bad": (0.55, {"source_val_acc": 0.93, "target_val_acc": 0.50}),
    "oracle": (0.90, {}),
}


def study(bundle):
    raw = offline_raw(bundle)
    raw["seeds"] = SEEDS
    raw["export"]["seed"] = 0
    raw["methods"]["variants"] = {"good": {"pseudo_labels": "threshold", "mixing": 1},
                                  "bad": {"pseudo_labels": "balanced"}}
    raw["evaluation"]["bootstrap"]["resamples"] = 500
    return Setup.of(load(raw))


def metrics(variant, acc, scores, y, seed):
    rng = np.random.default_rng([seed, len(variant)])
    pred = y.copy()
    wrong = rng.permutation(N)[: round((1 - acc) * N)]
    pred[wrong] = (y[wrong] + 1) % 3
    test = {"acc": float((pred == y).mean()), "per_class_acc": {c: 0.5 for c in ("dog", "cat", "bird")},
            "confusion": np.eye(3, dtype=int).tolist(), "n": N, "pred": pred.tolist()}
    m = {"seed": seed, "variant": variant, "n_train": 100, "train": {"acc": 0.99}, "val": {"acc": 0.98},
         "test": test}
    if variant == "oracle":
        m["labels"] = "target"
    else:
        m["criteria"] = {c: scores.get(c, 1.0) for c in CRITERIA}
    return m


@pytest.fixture(scope="module")
def summary(bundle):
    y = np.arange(N) % 3
    runs = {v: [metrics(v, acc, sc, y, s) for s in SEEDS] for v, (acc, sc) in PLAN.items()}
    return build(study(bundle), runs, y)


def test_bootstrap_interval_contains_the_mean_and_is_wider_than_the_seed_one(summary):
    t = summary["variants"]["good"]["test_acc"]
    lo, hi = t["bootstrap"]["ci95"]
    assert lo < t["mean"] < hi
    # The seeds disagree only a little here; the test sample's noise dominates.
    assert hi - lo > t["ci95"][1] - t["ci95"][0]


def test_oracle_is_marked_and_gap_closure_is_relative_to_it(summary):
    assert summary["oracle"] == "oracle" and summary["source_only"] == "synthetic-1000"
    assert summary["variants"]["oracle"]["labels"] == "target"
    assert "criteria" not in summary["variants"]["oracle"]
    gap = summary["gap_closure"]
    assert gap["good"]["mean"] == pytest.approx((0.80 - 0.60) / (0.90 - 0.60), abs=0.02)
    assert gap["synthetic-1000"]["mean"] == pytest.approx(0.0)
    assert gap["bad"]["mean"] < 0 and "oracle" not in gap


def test_selection_regret_is_zero_for_the_test_best_pick_and_positive_otherwise(summary):
    sel = summary["model_selection"]
    assert "oracle" not in sel["candidates"]
    assert sel["test_best"]["variant"] == "good"
    assert sel["deploy_criterion"] == "target_val_acc"
    tv = sel["criteria"]["target_val_acc"]
    assert tv["variant"] == "good" and tv["regret"]["mean"] == 0 and tv["regret"]["ci95"] == [0, 0]
    sv = sel["criteria"]["source_val_acc"]
    assert sv["variant"] == "synthetic-1000"
    assert sv["regret"]["mean"] == pytest.approx(0.20, abs=0.02) and sv["regret"]["ci95"][0] > 0


def test_claims_get_verdicts_by_the_configured_rule(summary):
    by_id = {c["id"]: c for c in summary["claims"]}
    assert set(by_id) == {"more-data", "pseudo-labels", "less-overfitting"}
    assert by_id["more-data"]["verdict"] == "reproduced"  # +10 points on 600 images x 3 seeds
    assert by_id["pseudo-labels"]["effect"]["mean"] == pytest.approx(0.01, abs=0.01)
    for c in by_id.values():
        assert c["verdict"] in ("reproduced", "not reproduced", "inconclusive")


def test_comparisons_carry_a_paired_bootstrap(summary):
    comp = {(c["a"], c["b"]): c for c in summary["comparisons"]}
    good = comp[("good", "synthetic-1000")]["bootstrap"]
    assert good["significant"] and good["ci95"][0] > 0
    assert all("oracle" not in pair for pair in comp)
