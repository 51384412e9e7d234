"""Model selection without test labels: which variant each criterion picks, and what it costs.

Every candidate variant (all but the oracle) was scored at training time on
each criterion of `config.CRITERIA` (source val accuracy, pool entropy,
information maximisation, SND, the small labeled target-validation split).
A criterion picks the variant with the best mean score over seeds. Its
*regret* is the test accuracy of the test-best variant minus that of the
pick, with a paired bootstrap interval; the test-best variant is named only
as regret's reference point and is never selectable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from synth2real.analysis import bootstrap
from synth2real.analysis.claims import rule_sentence, verdict
from synth2real.config import CRITERIA
from synth2real.config.evaluation import Claims


def pick(scores: Mapping[str, float], higher_is_better: bool) -> str:
    """The variant with the best score; ties go to the first in config order."""
    sign = 1.0 if higher_is_better else -1.0
    return max(scores, key=lambda v: (sign * scores[v], -list(scores).index(v)))


def select(variants: Mapping[str, Mapping], candidates: Sequence[str],
           correct: Mapping[str, np.ndarray], rs: bootstrap.Resamples, deploy: str,
           gap: Mapping[str, Mapping] | None) -> dict[str, object]:
    """The summary's `model_selection` section (see `synth2real.analysis.summary`)."""
    tested = [v for v in candidates if "criteria" in variants[v]]
    test_means = {v: variants[v]["test_acc"]["mean"] for v in tested}
    best = max(test_means, key=test_means.get)
    out: dict[str, object] = {}
    for name, (higher, reads, description) in CRITERIA.items():
        chosen = pick({v: variants[v]["criteria"][name]["mean"] for v in tested}, higher)
        out[name] = {
            "description": description, "reads": reads, "higher_is_better": higher,
            "variant": chosen,
            "test_acc": variants[chosen]["test_acc"]["bootstrap"],
            "gap_closure": (gap or {}).get(chosen),
            "regret": bootstrap.regret(correct[best], correct[chosen], rs),
        }
    return {"candidates": tested, "test_best": {"variant": best, "test_acc": test_means[best]},
            "deploy_criterion": deploy, "criteria": out}


def deploy_claim(selection: Mapping[str, Any], share: float, claims: Claims,
                 level: float) -> dict[str, object]:
    """The claim "the deployed label-free choice closes at least `share` of the gap", in the
    claims' format: its effect is the pick's gap closure minus `share` (positive = claimed
    direction), judged on its interval by the claims' rule. Without a gap (no oracle, or
    one that does not beat source-only) or an interval, it is inconclusive."""
    pick = selection["criteria"][selection["deploy_criterion"]]
    closure = pick["gap_closure"] or {}
    ci = closure.get("ci95")
    effect_ci = None if ci is None else [ci[0] - share, ci[1] - share]
    outcome = verdict(effect_ci, claims.margin)
    mean = closure.get("mean")
    return {"id": "deployed-choice", "metric": "gap_closure", "a": pick["variant"], "b": "oracle",
            "text": (f"the adapted model picked by {selection['deploy_criterion']} closes at "
                     f"least {share:.0%} of the source-only to oracle gap"),
            "effect": {"mean": None if mean is None else mean - share, "ci95": effect_ci,
                       "p_value": None, "seed_ci95": None, "level": level},
            "interval": "bootstrap", "margin": claims.margin, "verdict": outcome,
            # Gap closure has a bootstrap interval only: the rule reads that one.
            "rule": rule_sentence(claims.model_copy(update={"interval": "bootstrap"}), effect_ci,
                                  level, outcome)}
