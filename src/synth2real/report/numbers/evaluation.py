"""The `\\Num{<key>}` macros of the evaluation: intervals, oracle, gap closure, selection, claims.

Numbers per variant (`gap/<v>/mean`, `ci/<v>/test/boot`, ...), per criterion
(`sel/<criterion>/variant`, ..., and the deployed one again as `sel/deploy/...`)
and per claim (`claim/<id>/verdict`, ...), plus whole sentences (`text/...`) for
the statements whose wording depends on what the run has: an oracle or not,
selection results or not, the aim met or not. The sentences exist in every
run, so the paper compiles for a run without an oracle or without selection.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from synth2real.report import cells
from synth2real.report.text import pct, signed, tex, tt

VERDICTS = ("reproduced", "not reproduced", "inconclusive")


def _ci(ci, fmt=cells.points, **kw) -> str:
    return cells.latex_cell(cells.interval(ci, fmt, **kw))


def _share(x: float) -> str:
    return cells.latex_cell(cells.share(x))


def variant_numbers(summary: Mapping[str, Any]) -> dict[str, str]:
    """Per variant: both test intervals and, with an oracle, gap closure with its interval."""
    n: dict[str, str] = {}
    for v, s in summary["variants"].items():
        t = s["test_acc"]
        n[f"ci/{v}/test/seed"] = _ci(t.get("ci95"))
        n[f"ci/{v}/test/boot"] = _ci(cells.bootstrap_ci(t))
        g = cells.gap_closure(summary, v)
        if g is not None:
            n[f"gap/{v}/mean"] = _share(g["mean"])
            n[f"gap/{v}/ci"] = _ci(g.get("ci95"), cells.share)
        d = cells.paired(summary, v, cells.source_only(summary)) if v != cells.source_only(summary) else None
        if d is not None:
            n[f"delta/{v}/source"] = signed(d["mean"])
            n[f"delta/{v}/source/ci"] = _ci(d["ci95"], sign=True)
    return n


def interval_numbers(summary: Mapping[str, Any]) -> dict[str, str]:
    """Which interval is which, in the summary's own sentences."""
    iv = summary.get("intervals") or {}
    return {
        "interval/seed": tex(iv.get("seed", "Seed intervals are Student-t 95% intervals of the "
                                             "mean over the training seeds, on one fixed test set.")),
        "interval/bootstrap": tex(iv.get("bootstrap", "This run has no bootstrap intervals.")),
        "interval/level": f"{100 * iv.get('level', 0.95):g}",
        "interval/resamples": str(iv.get("resamples", "--")),
    }


def oracle_numbers(summary: Mapping[str, Any]) -> dict[str, str]:
    """The two ends of the gap-closure scale and the sentence that introduces them."""
    src, oracle = cells.source_only(summary), cells.oracle(summary)
    s = summary["variants"][src]["test_acc"]
    n = {"role/source": tt(src), "source/test": pct(s["mean"])}
    if oracle is None:
        n["text/oracle"] = ("This run trains no oracle, so it has no upper reference and no "
                            "gap closure; differences are given in points against "
                            f"{tt(src)} only.")
        n["text/oracle-note"] = "This run has no oracle, hence no gap-closure column."
        return n
    n["text/oracle-note"] = (f"$^{{\\ddagger}}$\\,{tt(oracle)} is trained on labeled real target "
                             "images: the upper end of the scale, not a candidate.")
    o = summary["variants"][oracle]["test_acc"]
    n |= {"role/oracle": tt(oracle), "oracle/test": pct(o["mean"]),
          "oracle/gap": signed(o["mean"] - s["mean"])}
    gaps = {v: g["mean"] for v, g in (summary.get("gap_closure") or {}).items()
            if v in summary["variants"] and not cells.uses_target_labels(summary, v)}
    best = (f" Among the candidates, {tt(max(gaps, key=gaps.get))} closes the largest share "
            f"of it, {_share(max(gaps.values()))}\\,\\%." if gaps else
            " The oracle does not beat the source-only model in this run, so gap closure has no "
            "scale and is not reported.")
    count = summary["variants"][oracle].get("n_train")
    photos = (f"{count} labeled real target images ({count // len(summary['classes'])} per class, "
              "disjoint from the test set and the pool)" if count else "labeled real target images")
    n["text/oracle"] = (
        f"The oracle ({tt(oracle)}), the same frozen backbone and head trained on {photos} "
        "(the only variant that sees target labels; it is a reference, not a "
        f"candidate), reaches {pct(o['mean'])}\\,\\% real-test accuracy "
        f"(bootstrap interval {_ci(cells.bootstrap_ci(o))}), against {pct(s['mean'])}\\,\\% for the "
        f"source-only {tt(src)}: a gap of {signed(o['mean'] - s['mean'])} points.{best}")
    return n


def _aim_sentence(gap: Mapping[str, Any] | None) -> str:
    aim = f"{100 * cells.GAP_CLOSURE_AIM:g}\\,\\%"
    if gap is None:
        return (f"Without an oracle that beats the source-only model, the aim of closing {aim} of "
                "the gap cannot be checked.")
    ci, mean = gap.get("ci95"), gap["mean"]
    if mean >= cells.GAP_CLOSURE_AIM:
        tail = ("even at the lower end of its interval" if ci and ci[0] >= cells.GAP_CLOSURE_AIM
                else f"though its interval reaches down to {_share(ci[0])}\\,\\%" if ci else "")
        return f"It meets the aim of closing at least {aim} of the gap{', ' + tail if tail else ''}."
    return (f"It does not reach the aim of closing {aim} of the gap: it closes "
            f"{_share(mean)}\\,\\%.")


def _prior_sentence(summary: Mapping[str, Any]) -> str:
    """The label-shift corrections' estimates of the pool's class prior against the training
    prior and the in-domain pool's true prior (read for this diagnostic only)."""
    priors = {v: s["prior"] for v, s in summary["variants"].items() if "prior" in s}
    if not priors:
        return ""
    classes = ", ".join(summary["classes"])

    def shares(p: Sequence[float]) -> str:
        return "(" + ", ".join(f"{100 * x:.1f}" for x in p) + ")"

    listed = "; ".join(f"{tt(v)} ({p['kind'].upper()}) {shares(p['estimated'])}"
                       for v, p in priors.items())
    first = next(iter(priors.values()))
    return (f"The label-shift corrections estimate the pool's class prior ({classes}, \\%; mean "
            f"over seeds) as {listed}, against {shares(first['source'])} among the training "
            f"labels; the pool's in-domain images are {shares(first['pool_true_in_domain'])} "
            "(their labels are read for this comparison only).")


def _ceiling_sentence(summary: Mapping[str, Any], gap: Mapping[str, Any] | None) -> str:
    """How far a perfect choice among the candidates would have got: the test-best
    candidate's gap closure (read with the test labels, so a ceiling, not a choice)."""
    best = summary["model_selection"]["test_best"]["variant"]
    ceiling = (summary.get("gap_closure") or {}).get(best)
    if gap is None or ceiling is None:
        return ""
    aim = cells.GAP_CLOSURE_AIM
    reach = ("so even a perfect choice among these candidates would fall short of the aim"
             if ceiling["mean"] < aim else
             "so the candidates hold a model that meets the aim, and the choice is what "
             "falls short" if gap["mean"] < aim else "")
    return (f" The ceiling, the best candidate in hindsight ({tt(best)}, found with the test "
            f"labels), closes {_share(ceiling['mean'])}\\,\\% {_ci(ceiling.get('ci95'), cells.share)}"
            + (f": {reach}." if reach else "."))


def selection_numbers(summary: Mapping[str, Any]) -> dict[str, str]:
    """Per criterion and for the deployed one: pick, test accuracy, gap closure, regret."""
    sel = summary.get("model_selection") or {}
    if not sel.get("criteria"):
        none = "This run has no model-selection results."
        return {"text/selection": none, "text/test-best": none, "text/abstract-evaluation": "",
                "text/candidates": "none.", "text/priors": ""}
    n: dict[str, str] = {}
    for c, r in sel["criteria"].items():
        keys = [f"sel/{c}"] + (["sel/deploy"] if c == sel["deploy_criterion"] else [])
        for k in keys:
            n[f"{k}/criterion"] = tt(c)
            n[f"{k}/reads"] = tex(r["reads"])
            n[f"{k}/variant"] = tt(r["variant"])
            n[f"{k}/test"] = pct(r["test_acc"]["mean"])
            n[f"{k}/test/ci"] = _ci(r["test_acc"].get("ci95"))
            n[f"{k}/regret"] = pct(r["regret"]["mean"])
            n[f"{k}/regret/ci"] = _ci(r["regret"].get("ci95"))
            if r.get("gap_closure"):
                n[f"{k}/gap"] = _share(r["gap_closure"]["mean"])
                n[f"{k}/gap/ci"] = _ci(r["gap_closure"].get("ci95"), cells.share)
    best = sel["test_best"]
    n["sel/test-best/variant"], n["sel/test-best/test"] = tt(best["variant"]), pct(best["test_acc"])
    n["text/candidates"] = ", ".join(tt(v) for v in sel["candidates"]) + "."
    n["text/priors"] = _prior_sentence(summary)
    deploy = sel["criteria"][sel["deploy_criterion"]]
    gap = deploy.get("gap_closure") if cells.oracle(summary) else None
    closes = (f", closing {n['sel/deploy/gap']}\\,\\% of the source-only $\\to$ oracle gap "
              f"{n['sel/deploy/gap/ci']}" if gap else "")
    label_free = {c: r["regret"]["mean"] for c, r in sel["criteria"].items()
                  if r["reads"] == "unlabeled pool"}
    unlabeled = ""
    if label_free:
        c = min(label_free, key=label_free.get)
        unlabeled = (f" Of the criteria that read no labels at all, {tt(c)} has the lowest regret: "
                     f"it picks {tt(sel['criteria'][c]['variant'])}, {pct(label_free[c])} points "
                     "below the test-best variant.")
    n["text/selection"] = (
        f"The deployed criterion, {n['sel/deploy/criterion']} (it reads the "
        f"{n['sel/deploy/reads']}), picks {n['sel/deploy/variant']} among the "
        f"{len(sel['candidates'])} candidates: "
        f"{n['sel/deploy/test']}\\,\\% real-test accuracy {n['sel/deploy/test/ci']}{closes}, "
        f"a regret of {n['sel/deploy/regret']} points {n['sel/deploy/regret/ci']} against the "
        f"test-best variant {n['sel/test-best/variant']} ({n['sel/test-best/test']}\\,\\%). "
        f"{_aim_sentence(gap)}{_ceiling_sentence(summary, gap)}{unlabeled}")
    n["text/test-best"] = (
        f"Regret is measured against the test-best variant, {n['sel/test-best/variant']} "
        f"({n['sel/test-best/test']}\\,\\%), which is found by reading the test labels and is "
        "therefore not selectable.")
    n["text/abstract-evaluation"] = (
        f"Chosen without test labels (by {n['sel/deploy/criterion']}), the deployed model reaches "
        f"{n['sel/deploy/test']}\\,\\%" + (f" and closes {n['sel/deploy/gap']}\\,\\% of the gap to "
                                            "an oracle trained on labeled target images" if gap
                                            else "") + ".")
    return n


def claim_numbers(summary: Mapping[str, Any]) -> dict[str, str]:
    """Per claim: effect, the interval its verdict read, the verdict; and a summary sentence."""
    claims = summary.get("claims") or []
    n: dict[str, str] = {"claims/n": str(len(claims)), "text/claims-rule": tex(cells.rule_words(summary))}
    for c in claims:
        n[f"claim/{c['id']}/effect"] = signed(c["effect"]["mean"])
        n[f"claim/{c['id']}/ci"] = _ci(cells.claim_ci(c), sign=True)
        n[f"claim/{c['id']}/verdict"] = c["verdict"]
    for verdict in VERDICTS:
        n[f"claims/{verdict.replace(' ', '-')}"] = str(sum(c["verdict"] == verdict for c in claims))
    if not claims:
        n["text/claims"] = "This run judges no claim."
        return n
    counts = ", ".join(f"{n['claims/' + v.replace(' ', '-')]} {v}" for v in VERDICTS)
    listed = []
    for c in claims:
        k = f"claim/{c['id']}"
        listed.append(f"``{tex(c['text'])}'': {n[k + '/effect']} points {n[k + '/ci']}, "
                    f"\\emph{{{c['verdict']}}}")
    n["text/claims"] = f"Of the {len(claims)} claims judged, {counts}: {'; '.join(listed)}."
    return n


def selection_limits(summary: Mapping[str, Any], counts: Mapping[str, int]) -> str:
    """Why the criteria pick what they pick: the target-validation split's own sampling error
    (a binomial standard error at the deploy pick's target-val accuracy), and the unlabeled
    criteria's bias towards methods that optimise what they measure."""
    sel, n_val = summary.get("model_selection") or {}, counts.get("target-val")
    if not sel.get("criteria") or not n_val:
        return ""
    pick = sel["criteria"]["target_val_acc"]["variant"]
    p = summary["variants"][pick]["criteria"]["target_val_acc"]["mean"]
    se = 100 * math.sqrt(p * (1 - p) / n_val)
    return (f"The labeled target-validation split has {n_val} photos: near {pct(p)}\\,\\% "
            f"accuracy its sampling error alone is about {se:.1f} points (one standard error), "
            "as large as the differences between the best candidates, so it separates only coarse "
            "differences; its size is a configuration key (\\texttt{real.target\\_val\\_per\\_class}). "
            "The unlabeled criteria score what some methods optimise directly: information "
            "maximisation lowers the pool entropy and raises the pool IM score, and SND rewards "
            "the same tight, confident clusters, so these criteria can favour such a method "
            "whether or not its predictions are right.")


def pixel_numbers(summary: Mapping[str, Any]) -> dict[str, str]:
    """The pixel-level parts' sentences: each variant on refined images, its real-test accuracy
    (bootstrap interval) and its paired difference to its unrefined twin (the claim comparing
    them); and whether each refiner kept the class in its images: the held-out synthetic
    validation accuracy on refined images against the twin's (synthetic labels only)."""
    twins = {c["a"]: c for c in summary.get("claims") or [] if c["id"].startswith("refined-")}
    variants = summary["variants"]
    listed, kept = [], []
    for v, s in variants.items():
        pixel = ((s.get("method") or {}).get("settings") or {}).get("source", {}).get("pixel")
        if pixel in (None, "none"):
            continue
        t = s["test_acc"]
        text = f"{tt(v)} {cells.points(t['mean'])}\\,\\% {_ci(cells.bootstrap_ci(t))}"
        if v in twins:
            c = twins[v]
            text += (f" ({signed(c['effect']['mean'])} points {_ci(cells.claim_ci(c), sign=True)}"
                     f" against {tt(c['b'])})")
            kept.append(f"{tt(v)} {pct(s['val_acc']['mean'])}\\,\\% against "
                        f"{pct(variants[c['b']]['val_acc']['mean'])}\\,\\%")
        listed.append(text)
    if not listed:
        return {"text/pixel": "This run trains no pixel-level part."}
    sentence = ("Real-test accuracy on refined images (bootstrap interval; paired difference to "
                "the same parts on the unrefined aligned images): " + "; ".join(listed) + ".")
    if kept:
        sentence += (" Whether a refiner kept the class in its images, read on synthetic labels "
                     "only (accuracy on the held-out synthetic validation split, refined, "
                     "against the unrefined twin's): " + "; ".join(kept) + ".")
    return {"text/pixel": sentence}


def evaluation_numbers(summary: Mapping[str, Any]) -> dict[str, str]:
    """Every evaluation macro of one summary (see the module docstring)."""
    return {**variant_numbers(summary), **interval_numbers(summary), **oracle_numbers(summary),
            **selection_numbers(summary), **claim_numbers(summary), **pixel_numbers(summary)}
