"""A verdict per claim of the study: reproduced, not reproduced, or inconclusive.

A claim says variant `a` beats variant `b` on a metric. Its effect is signed
so that positive is the claimed direction: acc(a) - acc(b) for test accuracy,
gap(b) - gap(a) for the overfitting gap (train - test accuracy; positive means
`a` overfits less). The verdict reads one interval of the effect -- the joint
bootstrap over seeds and test images, or the Student-t over seeds, as the
config says -- by the rule written in the config (`Claims`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np

from synth2real.analysis import bootstrap, stats
from synth2real.config.evaluation import Claim, Claims

Verdict = Literal["reproduced", "not reproduced", "inconclusive"]

_INTERVAL_NAMES = {"bootstrap": "bootstrap (seeds and test images)", "seeds": "Student-t (seeds)"}


def verdict(effect_ci: Sequence[float] | None, margin: float) -> Verdict:
    """Apply the rule to the effect's interval [lo, hi] (positive = claimed direction).

    reproduced when lo > 0; otherwise not reproduced when hi < margin;
    otherwise inconclusive. No interval (e.g. one seed) is inconclusive.
    """
    if effect_ci is None:
        return "inconclusive"
    lo, hi = effect_ci
    if lo > 0:
        return "reproduced"
    if hi < margin:
        return "not reproduced"
    return "inconclusive"


def rule_sentence(claims: Claims, ci: Sequence[float] | None, level: float, outcome: Verdict) -> str:
    """One sentence: the rule, the interval it read, and the outcome (effects in points)."""
    pct = f"{level * 100:g}%" if claims.interval == "bootstrap" else "95%"
    rule = (f"Reproduced when the {pct} {_INTERVAL_NAMES[claims.interval]} interval of the effect "
            f"lies above 0, not reproduced when it lies below the {claims.margin * 100:g}-point "
            f"margin, inconclusive otherwise")
    if ci is None:
        return f"{rule}; there is no interval (one seed), so: {outcome}."
    return f"{rule}; here [{ci[0] * 100:+.2f}, {ci[1] * 100:+.2f}] points, so: {outcome}."


def _seeds(claim: Claim, v: str, correct: Mapping[str, np.ndarray],
           test_acc: Mapping[str, Mapping], train_acc: Mapping[str, Mapping]) -> list[str]:
    """The variant's seed names in row order, after checking the run has what the claim needs."""
    need = [correct, test_acc] + ([train_acc] if claim.metric == "overfit_gap" else [])
    if any(v not in d for d in need):
        raise ValueError(f"claim {claim.id!r} names variant {v!r}, which this run does not have "
                         f"(variants: {sorted(correct)})")
    seeds = [str(s) for s in test_acc[v]]
    C = np.asarray(correct[v], dtype=np.float64)
    # The rows of C must be the seeds of test_acc in that order: pairing relies on it.
    if C.shape[0] != len(seeds) or not np.allclose(C.mean(axis=1), list(test_acc[v].values()), atol=1e-6):
        raise ValueError(f"claim {claim.id!r}: the correctness rows of {v!r} do not match its per-seed "
                         f"test accuracies (seeds {seeds})")
    if claim.metric == "overfit_gap" and {str(s) for s in train_acc[v]} != set(seeds):
        raise ValueError(f"claim {claim.id!r}: {v!r} has train accuracies for seeds "
                         f"{sorted(map(str, train_acc[v]))}, test accuracies for {seeds}")
    return seeds


def effect(claim: Claim, correct: Mapping[str, np.ndarray], train_acc: Mapping[str, Mapping],
           test_acc: Mapping[str, Mapping], rs: bootstrap.Resamples) -> dict[str, object]:
    """The claim's effect: {"mean", "ci95" (bootstrap), "p_value" (bootstrap), "seed_ci95"} (+ "level")."""
    sa = _seeds(claim, claim.a, correct, test_acc, train_acc)
    sb = _seeds(claim, claim.b, correct, test_acc, train_acc)
    if sa != sb:
        raise ValueError(f"claim {claim.id!r}: {claim.a!r} has seeds {sa}, {claim.b!r} has {sb}; "
                         "a paired comparison needs the same seeds in the same order")
    test = {v: {str(s): float(x) for s, x in test_acc[v].items()} for v in (claim.a, claim.b)}
    if claim.metric == "test_acc":
        boot = bootstrap.paired(correct[claim.a], correct[claim.b], rs)
        seed = stats.paired(test[claim.a], test[claim.b])
    else:
        train = {v: {str(s): float(x) for s, x in train_acc[v].items()} for v in (claim.a, claim.b)}
        gap = {v: {s: train[v][s] - test[v][s] for s in sa} for v in (claim.a, claim.b)}
        # gap(b) - gap(a): b first, each side's metric is train_s - test_s.
        boot = bootstrap.paired(correct[claim.b], correct[claim.a], rs,
                                offset_a=[train[claim.b][s] for s in sa],
                                offset_b=[train[claim.a][s] for s in sa])
        seed = stats.paired(gap[claim.b], gap[claim.a])
    out = {"mean": boot["mean"], "ci95": boot["ci95"], "p_value": boot["p_value"],
           "seed_ci95": seed["ci95"]}
    if "level" in boot:
        out["level"] = boot["level"]
    return out


def evaluate(claims: Claims, correct: Mapping[str, np.ndarray], train_acc: Mapping[str, Mapping],
             test_acc: Mapping[str, Mapping], rs: bootstrap.Resamples,
             items: Sequence[Claim] | None = None) -> list[dict[str, object]]:
    """A verdict per claim, judged by `claims`' rule.

    `items`: the claims to judge, by default `claims.items` (when the config
    leaves those null, pass the study's, e.g. from `published_claims`).
    `correct`: variant -> (seeds, images) 0/1 matrix, rows in the order of
    `test_acc[variant]`'s seeds; `train_acc`, `test_acc`: variant -> {seed: acc}.
    Each item: {"id", "text", "a", "b", "metric", "effect": {"mean", "ci95",
    "p_value", "seed_ci95"}, "interval", "margin", "verdict", "rule"}.
    """
    items = claims.items if items is None else items
    if items is None:
        raise ValueError("no claims to judge: the config's claims.items is null and none were passed "
                         "(use config.evaluation.published_claims for the study's)")
    out = []
    for claim in items:
        eff = effect(claim, correct, train_acc, test_acc, rs)
        ci = eff["ci95"] if claims.interval == "bootstrap" else eff["seed_ci95"]
        outcome = verdict(ci, claims.margin)
        out.append({"id": claim.id, "text": claim.text, "a": claim.a, "b": claim.b,
                    "metric": claim.metric, "effect": eff, "interval": claims.interval,
                    "margin": claims.margin, "verdict": outcome,
                    "rule": rule_sentence(claims, ci, rs.level, outcome)})
    return out
