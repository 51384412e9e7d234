"""The cells every table, figure and macro shows: the summary's evaluation keys, read one way.

The oracle and the source-only variant (the two ends of the gap-closure
scale), the candidates a practitioner could deploy, paired differences
against the source-only variant (bootstrap over seeds and test images), and
the cell text of accuracies, differences and gap closures. A summary of a run
without an oracle, without bootstrap intervals or without selection results
reads as "absent" (None), never as an error, so every table degrades by
dropping a row or a column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# The splits every model is scored on, in the order tables show them.
SPLITS = ("train", "val", "test")
# What each interval kind is called in table notes and captions (plain text).
INTERVAL_WORDS = {"bootstrap": "bootstrap over seeds and test images",
                  "seeds": "Student-t over training seeds"}
# The artifact's stated aim for the deployed pick: close at least this share of the gap.
GAP_CLOSURE_AIM = 0.70


def source_only(summary: Mapping[str, Any]) -> str:
    """The variant at gap closure 0 (the source-only reference of every paired difference)."""
    return summary.get("source_only") or summary["baseline"]


def oracle(summary: Mapping[str, Any]) -> str | None:
    """The target-supervised variant at gap closure 1, or None when the run has none."""
    o = summary.get("oracle")
    return o if o in summary["variants"] else None


def uses_target_labels(summary: Mapping[str, Any], variant: str) -> bool:
    """Whether `variant` was trained on labeled real target images (never a candidate)."""
    return variant == oracle(summary) or summary["variants"][variant].get("labels") == "target"


def candidates(summary: Mapping[str, Any]) -> list[str]:
    """Variants a practitioner could deploy: all but those trained on target labels."""
    return [v for v in summary["variants"] if not uses_target_labels(summary, v)]


def table_order(summary: Mapping[str, Any]) -> list[str]:
    """Source-only first, the other candidates in summary order, target-labeled variants last."""
    src = source_only(summary)
    rest = [v for v in candidates(summary) if v != src]
    return [src, *rest, *[v for v in summary["variants"] if uses_target_labels(summary, v)]]


def bootstrap_ci(stat: Mapping[str, Any]) -> list[float] | None:
    """The bootstrap interval of a per-variant statistic (`{"bootstrap": {"ci95"}}`), if any."""
    return (stat.get("bootstrap") or {}).get("ci95")


def paired(summary: Mapping[str, Any], a: str, b: str) -> dict[str, Any] | None:
    """The paired difference a - b: {"mean", "ci95", "significant"} of the bootstrap
    comparison (seed-paired when the summary has no bootstrap), or None.

    A comparison stored the other way round (b - a) is negated, so every
    variant has its difference to the source-only one whichever way it was computed.
    """
    for c in summary.get("comparisons", []):
        if {c["a"], c["b"]} != {a, b} or c.get("metric", "test_acc") != "test_acc":
            continue
        d = c.get("bootstrap") or c
        ci = d.get("ci95")
        if c["a"] == a:
            return {"mean": d["mean"], "ci95": ci, "significant": bool(d.get("significant"))}
        return {"mean": -d["mean"], "ci95": None if ci is None else [-ci[1], -ci[0]],
                "significant": bool(d.get("significant"))}
    return None


def gap_closure(summary: Mapping[str, Any], variant: str) -> dict[str, Any] | None:
    """{"mean", "ci95"} of the variant's gap closure; 0 for the source-only, 1 for the oracle
    (the scale's ends, without interval); None without an oracle or without a scale."""
    if not has_gap_closure(summary):
        return None  # no oracle, or one that does not beat source-only: no scale
    if variant == source_only(summary):
        return {"mean": 0.0, "ci95": None}
    if variant == oracle(summary):
        return {"mean": 1.0, "ci95": None}
    return (summary.get("gap_closure") or {}).get(variant)


def has_gap_closure(summary: Mapping[str, Any]) -> bool:
    """Whether the run has a gap-closure scale: an oracle that beats the source-only model."""
    return oracle(summary) is not None and summary.get("gap_closure") is not None


def interval_kind(summary: Mapping[str, Any]) -> str:
    """The interval kind the claims' verdicts read ("bootstrap" or "seeds")."""
    claims = summary.get("claims") or []
    return claims[0].get("interval", "bootstrap") if claims else "bootstrap"


def level(summary: Mapping[str, Any], kind: str = "bootstrap") -> str:
    """An interval kind's confidence level as text ("95%"); seed intervals are always 95%."""
    lvl = summary.get("intervals", {}).get("level", 0.95) if kind == "bootstrap" else 0.95
    return f"{100 * lvl:g}%"


def claim_ci(claim: Mapping[str, Any]) -> list[float] | None:
    """The interval of a claim's effect that its verdict read."""
    eff = claim["effect"]
    return eff.get("seed_ci95") if claim.get("interval") == "seeds" else eff.get("ci95")


# -- cell text: plain (Markdown, CSV) and LaTeX -------------------------------------------

def points(x: float | None, sign: bool = False) -> str:
    """A fraction in percent (or percentage points), two decimals; '–' for none."""
    return "–" if x is None else format(100 * x, "+.2f" if sign else ".2f")


def share(x: float | None) -> str:
    """A gap closure in percent of the gap, one decimal (a ratio: noisier than accuracies)."""
    return "–" if x is None else f"{100 * x:.1f}"


def interval(ci: Sequence[float] | None, fmt=points, **kw: Any) -> str:
    """'[lo, hi]' in the given cell format, or '–'."""
    return "–" if ci is None else f"[{fmt(ci[0], **kw)}, {fmt(ci[1], **kw)}]"


def latex_cell(text: str) -> str:
    """A plain cell for LaTeX: real minus signs, '--' for none."""
    return text.replace("-", "$-$").replace("–", "--")

def rule_words(summary: Mapping) -> str:
    """The verdict rule (plain text), with this run's margin and interval kind."""
    claims = summary.get("claims") or []
    if not claims:
        return "This run judges no claim."
    m = 100 * claims[0]["margin"]
    margin = f"{m:g} percentage point{'' if m == 1 else 's'}"
    kind = interval_kind(summary)
    return (f"Effect: the claimed difference in percentage points (positive = the claimed "
            f"direction), with its {level(summary, kind)} interval ({INTERVAL_WORDS[kind]}). "
            "Verdict rule, from the configuration: reproduced when the interval lies above 0; "
            f"not reproduced when it lies below the margin of {margin}; inconclusive "
            "otherwise.")
