"""The labeled-budget track's macros (`\\Num{budget/...}`), from `results/budgets.json`.

Per method and budget: `budget/<method>/<b>/mean` and `.../ci` (bootstrap interval); per
reference (source-only, zero-label, oracle): `budget/ref/<role>/variant`, `.../mean`,
`.../ci`, `.../labels` (real labels in training); the track's settings:
`budget/per-class`, `text/budget-all` (the photos per class of `all`), `budget/nmethods`,
`budget/real-only`, `text/budget-methods`; the headline: `budget/worth/<role>/n` and
`.../ci` for role zero-label and source-only, and the sentences `text/budget-worth` and
`text/budget-worth-source`; the claims: the keys of `numbers.evaluation.claim_numbers`
prefixed `budget-` (`budget-claim/<id>/verdict`, ...) and `text/budget-claims`, which names
each claim's budgets. main.tex reads them only under `\\ifbudgets` (a run with the track).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from synth2real.report import cells
from synth2real.report.numbers.evaluation import claim_numbers
from synth2real.report.text import pct, tex, tt

ROLES = {"source_only": "source-only", "zero_label": "zero-label", "oracle": "oracle"}


def photos(x: float) -> str:
    """Photos per class as the prose gives them: a budget whole, an interpolated count with
    one decimal under 10 and whole above."""
    return str(int(x)) if float(x).is_integer() else f"{x:.1f}" if x < 10 else f"{x:.0f}"


def photo_words(x: float) -> str:
    """`1 labeled photo`, `3 labeled photos` (per class, said after)."""
    return f"{photos(x)} labeled photo{'' if photos(x) == '1' else 's'}"


def listing(items: list[str]) -> str:
    """`a, b and c`."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def worth_ci(w: Mapping[str, Any]) -> str:
    """The crossing's interval in words: a censored end says which way it is open."""
    lo, hi = w["ci95"]
    low = photos(lo) if lo is not None else f"at most {photos(w['smallest'])}"
    high = photos(hi) if hi is not None else f"beyond {photos(w['largest'])}"
    return f"{low} to {high}"


def worth_sentence(b: Mapping[str, Any], role: str, w: Mapping[str, Any] | None) -> str:
    """What the photos-alone curve says about one reference, in one or two sentences."""
    words, what = {"zero_label": ("the zero-label pick", "the synthetic set"),
                   "source_only": ("the source-only model", "the source-only model")}[role]
    if w is None:
        return (f"This run's track has no photos-alone method ({tt(b['real_only'])}), so it reads "
                f"no crossing with {words}.")
    level = f"{100 * b['intervals']['level']:g}\\,\\%"
    m, ref = tt(w["method"]), f"{words} {tt(w['reference'])} ({pct(w['reference_acc'])}\\,\\%)"
    if w["censored"] == "at_most_smallest":
        return (f"Already at the smallest budget, {photo_words(w['smallest'])} per class, {m} "
                f"matches {ref}: the track has no smaller budget, so {what} is worth at most "
                f"{photo_words(w['smallest']).replace('photo', 'real photo')} per class here.")
    if w["censored"] == "beyond_largest":
        return (f"Even with all {photo_words(w['largest'])} per class, {m} stays below {ref}: "
                f"{what} is worth more labeled real photos per class than the track has.")
    return (f"Trained on the labeled photos alone, {m} reaches {ref} at "
            f"{photo_words(w['photos_per_class'])} per class ({level} bootstrap interval "
            f"{worth_ci(w)}): {what} is worth about "
            f"{photo_words(w['photos_per_class']).replace('photo', 'real photo')} per class.")


def references_sentence(b: Mapping[str, Any], n: Mapping[str, str]) -> str:
    """The three references with their accuracies, intervals and real labels, in one sentence."""
    refs = b["references"]
    parts = []
    for role, key in ROLES.items():
        ref = refs.get(role)
        if not ref:
            continue
        acc = f"{n[f'budget/ref/{key}/mean']}\\,\\% {n[f'budget/ref/{key}/ci']}"
        if role == "source_only":
            parts.append(f"the source-only model {tt(ref['variant'])} ({acc}; no real label)")
        elif role == "zero_label":
            reads = ref.get("criterion_reads", "")
            how = ("; no real label in training, the \\Num{count/target-val} labeled "
                   "target-validation photos read only to choose it" if "labeled target" in reads
                   else "; no real label in training nor in its choice")
            by = f" chosen by {tt(ref['criterion'])}" if ref.get("criterion") else ""
            parts.append(f"the zero-label pick {tt(ref['variant'])},{by} ({acc}{how})")
        else:
            parts.append(f"the oracle {tt(ref['variant'])} ({acc}; "
                         f"{ref.get('real_labels', 'all the')} labeled real photos)")
    if not refs.get("oracle"):
        parts.append("no oracle (this run trains none)")
    return "The references, from the study's summary: " + listing(parts) + "."


def budget_numbers(b: Mapping[str, Any]) -> dict[str, str]:
    """Every macro of the track (see the module docstring)."""
    n: dict[str, str] = {}
    per_class = b["per_class"]
    n["budget/per-class"] = listing([str(x) for x in per_class])
    # `all`, said where a budget list or axis shows it (empty in a track without it).
    n["text/budget-all"] = (f", \\emph{{all}} being the {b['photos_per_class']['all']} photos per "
                            "class of the oracle split" if "all" in b["photos_per_class"] else "")
    n["budget/nmethods"] = str(len(b["methods"]))
    n["budget/real-only"] = tt(b["real_only"])
    for m, entry in b["methods"].items():
        for x in per_class:
            t = entry["budgets"][str(x)]["test_acc"]
            n[f"budget/{m}/{x}/mean"] = pct(t["mean"])
            n[f"budget/{m}/{x}/ci"] = cells.latex_cell(cells.interval(cells.bootstrap_ci(t)))
    n["text/budget-methods"] = "; ".join(
        f"{tt(m)}: {tex(e.get('description') or m)}" for m, e in b["methods"].items()) + "."
    for role, key in ROLES.items():
        ref = b["references"].get(role)
        if ref:
            n[f"budget/ref/{key}/variant"] = tt(ref["variant"])
            n[f"budget/ref/{key}/mean"] = pct(ref["test_acc"]["mean"])
            n[f"budget/ref/{key}/ci"] = cells.latex_cell(
                cells.interval(cells.bootstrap_ci(ref["test_acc"])))
            n[f"budget/ref/{key}/labels"] = str(ref.get("real_labels", "--"))
    zero = b["references"].get("zero_label") or {}
    if zero.get("criterion"):
        n["budget/ref/zero-label/criterion"] = tt(zero["criterion"])
    n["text/budget-references"] = references_sentence(b, n)
    worth = b.get("worth") or {}
    for role, key in (("zero_label", "zero-label"), ("source_only", "source-only")):
        w = worth.get(role)
        if w is not None:
            n[f"budget/worth/{key}/n"] = (photos(w["photos_per_class"])
                                          if w["photos_per_class"] is not None else
                                          {"at_most_smallest": f"$\\le${photos(w['smallest'])}",
                                           "beyond_largest": f"$>${photos(w['largest'])}"}
                                          [w["censored"]])
            n[f"budget/worth/{key}/ci"] = worth_ci(w)
    n["text/budget-worth"] = worth_sentence(b, "zero_label", worth.get("zero_label"))
    n["text/budget-worth-source"] = worth_sentence(b, "source_only", worth.get("source_only"))
    n.update(claims(b))
    return n


def claims(b: Mapping[str, Any]) -> dict[str, str]:
    """The study's claim macros for the track's claims (prefixed `budget-`), and one sentence
    naming each claim's pair, budgets, effect, interval and verdict."""
    out = {(f"text/budget-{k[5:]}" if k.startswith("text/") else f"budget-{k}"): v
           for k, v in claim_numbers(b).items()}
    items = b.get("claims") or []
    if not items:
        out["text/budget-claims"] = "The track judges no claim in this run."
        return out
    listed = []
    for c in items:
        k = f"budget-claim/{c['id']}"
        at = listing([str(x) for x in c["per_class"]])
        unit = "photo" if c["per_class"] == [1] else "photos"
        listed.append(f"``{tex(c['text'])}'' ({tt(c['a'])} vs {tt(c['b'])}, mean over {at} "
                      f"{unit} per class): {out[k + '/effect']} points {out[k + '/ci']}, "
                      f"\\emph{{{c['verdict']}}}")
    counts = ", ".join(f"{out['budget-claims/' + v.replace(' ', '-')]} {v}"
                       for v in ("reproduced", "not reproduced", "inconclusive"))
    out["text/budget-claims"] = (f"Of the {len(items)} claims judged on the track, {counts}: "
                                 f"{'; '.join(listed)}.")
    return out
