"""Claim verdicts: the config's rule at its boundaries, effect directions, missing variants."""

from __future__ import annotations

import numpy as np
import pytest

from synth2real.analysis import bootstrap as bs
from synth2real.analysis import claims as cl
from synth2real.analysis import stats
from synth2real.config.evaluation import Bootstrap, Claim, Claims, published_claims

N = 1000
SEEDS = [0, 1, 2, 3]


@pytest.mark.parametrize(("ci", "margin", "want"), [
    ([0.001, 0.05], 0.01, "reproduced"),
    ([0.001, 0.005], 0.01, "reproduced"),        # lo > 0 decides first, even under the margin
    ([0.0, 0.005], 0.01, "not reproduced"),      # lo = 0 is not above 0
    ([-0.03, 0.0099], 0.01, "not reproduced"),
    ([-0.03, 0.01], 0.01, "inconclusive"),       # hi = margin is not below it
    ([-0.01, 0.02], 0.01, "inconclusive"),
    ([-0.01, -0.001], 0.0, "not reproduced"),
    ([-0.01, 0.0], 0.0, "inconclusive"),
    (None, 0.01, "inconclusive"),
])
def test_verdict_on_each_side_of_the_rule(ci, margin, want):
    assert cl.verdict(ci, margin) == want


def run(rng: np.random.Generator, test: dict[str, list[float]], train: dict[str, list[float]]):
    """Correctness matrices with the given per-seed test accuracies, and the accuracy dicts."""
    correct = {}
    for v, accs in test.items():
        C = np.zeros((len(accs), N), dtype=bool)
        for s, a in enumerate(accs):
            C[s, rng.permutation(N)[: round(a * N)]] = True
        correct[v] = C
    seeds = SEEDS[: len(next(iter(test.values())))]
    test_acc = {v: {s: float(C[i].mean()) for i, s in enumerate(seeds)} for v, C in correct.items()}
    train_acc = {v: dict(zip(seeds, accs)) for v, accs in train.items()}
    return correct, train_acc, test_acc


def claims_of(*items: Claim, **kw) -> Claims:
    return Claims(items=list(items), **kw)


MORE = Claim(id="more-data", text="1000 beat 500", a="big", b="small")
LESS_OVERFIT = Claim(id="less-overfitting", text="a overfits less", a="adapted", b="big",
                     metric="overfit_gap")


def test_a_clear_accuracy_gain_is_reproduced_and_equal_variants_are_not():
    rng = np.random.default_rng(0)
    correct, train, test = run(rng, {"big": [0.80, 0.82, 0.81, 0.83], "small": [0.70, 0.71, 0.72, 0.70]}, {})
    correct["same"] = correct["big"].copy()
    test["same"] = dict(test["big"])
    rs = bs.draw(4, N, Bootstrap(resamples=500))
    same = Claim(id="same", text="same", a="same", b="big")
    out = cl.evaluate(claims_of(MORE, same), correct, train, test, rs)
    assert [o["verdict"] for o in out] == ["reproduced", "not reproduced"]
    e = out[0]["effect"]
    assert e["mean"] == pytest.approx(correct["big"].mean() - correct["small"].mean())
    assert e["seed_ci95"] == pytest.approx(stats.paired(
        {str(s): x for s, x in test["big"].items()}, {str(s): x for s, x in test["small"].items()})["ci95"])
    assert e["ci95"][0] > 0 and out[1]["effect"]["ci95"] == [0.0, 0.0]
    assert {k: out[0][k] for k in ("id", "a", "b", "metric", "interval", "margin")} == {
        "id": "more-data", "a": "big", "b": "small", "metric": "test_acc", "interval": "bootstrap",
        "margin": 0.01}
    assert "reproduced" in out[0]["rule"] and "1-point margin" in out[0]["rule"]


def test_a_reversed_claim_is_not_reproduced():
    rng = np.random.default_rng(1)
    correct, train, test = run(rng, {"big": [0.70, 0.71, 0.72, 0.70], "small": [0.80, 0.82, 0.81, 0.83]}, {})
    (out,) = cl.evaluate(claims_of(MORE), correct, train, test, bs.draw(4, N, Bootstrap(resamples=500)))
    assert out["effect"]["mean"] < 0 and out["verdict"] == "not reproduced"


def test_overfit_gap_effect_is_positive_when_a_overfits_less():
    rng = np.random.default_rng(2)
    test_accs = {"adapted": [0.90, 0.91, 0.90, 0.92], "big": [0.80, 0.81, 0.80, 0.82]}
    train_accs = {"adapted": [0.99, 0.98, 0.99, 0.99], "big": [0.99, 0.99, 0.99, 0.99]}
    correct, train, test = run(rng, test_accs, train_accs)
    rs = bs.draw(4, N, Bootstrap(resamples=500))
    (out,) = cl.evaluate(claims_of(LESS_OVERFIT), correct, train, test, rs)
    gap = {v: np.mean(train_accs[v]) - correct[v].mean() for v in ("adapted", "big")}
    assert out["effect"]["mean"] == pytest.approx(gap["big"] - gap["adapted"])
    assert out["effect"]["mean"] > 0 and out["verdict"] == "reproduced"
    assert out["effect"]["seed_ci95"][0] > 0
    # Swapping the roles flips the sign: `big` does not overfit less than `adapted`.
    flipped = Claim(id="flipped", text="x", a="big", b="adapted", metric="overfit_gap")
    (back,) = cl.evaluate(claims_of(flipped), correct, train, test, rs)
    assert back["effect"]["mean"] == pytest.approx(-out["effect"]["mean"])
    assert back["verdict"] == "not reproduced"


def test_seed_intervals_decide_when_configured():
    # One seed: the bootstrap still has images to resample, the t interval has nothing.
    rng = np.random.default_rng(3)
    correct, train, test = run(rng, {"big": [0.85], "small": [0.70]}, {})
    rs = bs.draw(1, N, Bootstrap(resamples=500))
    (boot,) = cl.evaluate(claims_of(MORE), correct, train, test, rs)
    (seed,) = cl.evaluate(claims_of(MORE, interval="seeds"), correct, train, test, rs)
    assert boot["verdict"] == "reproduced" and seed["effect"]["seed_ci95"] is None
    assert seed["verdict"] == "inconclusive" and seed["interval"] == "seeds"
    assert "no interval" in seed["rule"]


def test_a_missing_variant_is_an_error_naming_the_claim_and_variant():
    rng = np.random.default_rng(4)
    correct, train, test = run(rng, {"big": [0.8, 0.8], "small": [0.7, 0.7]}, {})
    rs = bs.draw(2, N, Bootstrap(resamples=100))
    with pytest.raises(ValueError, match=r"'less-overfitting'.*'adapted'"):
        cl.evaluate(claims_of(LESS_OVERFIT), correct, train, test, rs)
    # The overfitting gap needs train accuracies too.
    correct["adapted"], test["adapted"] = correct["big"], test["big"]
    with pytest.raises(ValueError, match=r"'less-overfitting'.*'adapted'"):
        cl.evaluate(claims_of(LESS_OVERFIT), correct, train, test, rs)


def test_rows_out_of_seed_order_are_refused():
    rng = np.random.default_rng(5)
    correct, train, test = run(rng, {"big": [0.8, 0.6], "small": [0.7, 0.7]}, {})
    test["big"] = {1: test["big"][1], 0: test["big"][0]}
    with pytest.raises(ValueError, match="do not match"):
        cl.evaluate(claims_of(MORE), correct, train, test, bs.draw(2, N, Bootstrap(resamples=100)))


def test_the_published_claims_run_on_their_variant_names():
    rng = np.random.default_rng(6)
    names = {"synthetic-500": 0.80, "synthetic-1000": 0.83, "pseudo-label": 0.88}
    correct, train, test = run(rng, {v: [a] * 3 for v, a in names.items()}, {v: [0.99] * 3 for v in names})
    rs = bs.draw(3, N, Bootstrap(resamples=200))
    with pytest.raises(ValueError, match="published_claims"):
        cl.evaluate(Claims(), correct, train, test, rs)
    items = published_claims("synthetic-500", "synthetic-1000", "synthetic-1000", "pseudo-label")
    out = cl.evaluate(Claims(), correct, train, test, rs, items=items)
    assert [o["id"] for o in out] == ["more-data", "pseudo-labels", "less-overfitting"]
    assert all(o["verdict"] in ("reproduced", "not reproduced", "inconclusive") for o in out)
