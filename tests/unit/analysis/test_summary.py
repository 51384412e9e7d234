"""The summary's science on synthetic per-seed metrics with known answers:
bootstrap intervals, the oracle's gap closure, model selection with regret, claim verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from synth2real.analysis.summary import Setup, build
from synth2real.config import CRITERIA, load
from tests.unit.config.test_config import offline_raw

N = 600  # test images
POOL = 60  # pool images
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
    raw["evaluation"].update(candidates=None, deploy_criterion="target_val_acc")
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
        m["criteria"] = {c: scores.get(c, 1.0) for c in CRITERIA if c != "ensv"}
        # The pool predictions EnsV compares (the summary scores them): the test predictions'
        # first POOL rows stand in for them.
        m["pool_probs"] = np.eye(3)[pred[:POOL]].tolist()
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
    assert set(by_id) == {"more-data", "pseudo-labels", "less-overfitting", "deployed-choice"}
    assert by_id["more-data"]["verdict"] == "reproduced"  # +10 points on 600 images x 3 seeds
    assert by_id["pseudo-labels"]["effect"]["mean"] == pytest.approx(0.01, abs=0.01)
    for c in by_id.values():
        assert c["verdict"] in ("reproduced", "not reproduced", "inconclusive")


def test_comparisons_carry_a_paired_bootstrap(summary):
    comp = {(c["a"], c["b"]): c for c in summary["comparisons"]}
    good = comp[("good", "synthetic-1000")]["bootstrap"]
    assert good["significant"] and good["ci95"][0] > 0
    assert all("oracle" not in pair for pair in comp)


def test_ensv_scores_each_candidate_against_the_candidates_average_per_seed(summary, bundle):
    y = np.arange(N) % 3
    runs = {v: [metrics(v, acc, sc, y, s) for s in SEEDS] for v, (acc, sc) in PLAN.items()}
    candidates = [v for v in PLAN if v != "oracle"]
    for k, s in enumerate(SEEDS):
        probs = {v: np.asarray(runs[v][k]["pool_probs"]) for v in candidates}
        pseudo = np.mean(list(probs.values()), 0).argmax(1)
        for v in candidates:
            expected = float((probs[v].argmax(1) == pseudo).mean())
            assert summary["variants"][v]["criteria"]["ensv"]["per_seed"][str(s)] == expected
    assert "ensv" in summary["model_selection"]["criteria"]


def test_a_declared_candidate_set_limits_selection_and_ensvs_average(bundle):
    y = np.arange(N) % 3
    runs = {v: [metrics(v, acc, sc, y, s) for s in SEEDS] for v, (acc, sc) in PLAN.items()}
    setup = study(bundle)
    chosen = ["pseudo-label", "bad"]
    setup = Setup(**{**setup.__dict__, "evaluation": setup.evaluation.model_copy(
        update={"candidates": chosen})})
    out = build(setup, runs, y)
    assert out["model_selection"]["candidates"] == chosen
    assert {c["variant"] for c in out["model_selection"]["criteria"].values()} <= set(chosen)
    k = 0
    pseudo = np.mean([np.asarray(runs[v][k]["pool_probs"]) for v in chosen], 0).argmax(1)
    good = np.asarray(runs["good"][k]["pool_probs"]).argmax(1)
    assert out["variants"]["good"]["criteria"]["ensv"]["per_seed"]["0"] == (good == pseudo).mean()
    bad = Setup(**{**setup.__dict__, "evaluation": setup.evaluation.model_copy(
        update={"candidates": ["good", "oracle"]})})
    with pytest.raises(ValueError, match=r"evaluation.candidates: \['oracle'\]"):
        build(bad, runs, y)


def test_the_deployed_choice_claim_reads_the_picks_gap_closure(summary):
    claim = {c["id"]: c for c in summary["claims"]}["deployed-choice"]
    pick = summary["model_selection"]["criteria"]["target_val_acc"]
    assert claim["a"] == pick["variant"] == "good"
    closure = summary["gap_closure"]["good"]
    assert claim["effect"]["mean"] == pytest.approx(closure["mean"] - 0.7)
    assert claim["effect"]["ci95"] == pytest.approx([x - 0.7 for x in closure["ci95"]])
    # "good" closes (0.80 - 0.60) / (0.90 - 0.60) = 67% of the gap: not above 70% for sure.
    assert claim["verdict"] != "reproduced"


def test_the_deployed_choice_claim_follows_the_deploy_criterion_not_the_test_best(bundle):
    y = np.arange(N) % 3
    runs = {v: [metrics(v, acc, sc, y, s) for s in SEEDS] for v, (acc, sc) in PLAN.items()}
    setup = study(bundle)
    setup = Setup(**{**setup.__dict__, "evaluation": setup.evaluation.model_copy(
        update={"deploy_criterion": "source_val_acc"})})
    claim = {c["id"]: c for c in build(setup, runs, y)["claims"]}["deployed-choice"]
    # source_val_acc picks the source-only model: 0 of the gap, 70 points short of the claim.
    assert claim["a"] == "synthetic-1000" and "source_val_acc" in claim["text"]
    assert claim["effect"]["mean"] == pytest.approx(-0.7)
    assert claim["verdict"] == "not reproduced"
