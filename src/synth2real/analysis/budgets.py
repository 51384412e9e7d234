"""The labeled-budget track's summary (`budgets.json`): what b labeled real photos per class buy.

Every method of `budgets.methods` was trained at every budget of `budgets.per_class`
(the variant `<method>@<b>`, over the study's seeds; seed s's model read draw s of
the photos, so the seed spread carries the draw too). This stage puts those models
on one scale with three label-free or label-rich references from the study's
summary -- the source-only model, the zero-label pick (the model the deploy
criterion chose, never on test labels) and the oracle -- using the summary's own
joint resamples of seeds and test images (`bootstrap.draw` with the same settings
and shape), so every interval here is comparable with, and paired to, the summary's.

The headline reads the curve of `budgets.real_only` (the photos alone): the number of
labeled photos per class at which it first reaches the zero-label pick's accuracy --
"the synthetic set is worth N labeled real photos per class" -- interpolated linearly in
log(photos) between the two budgets around the crossing (`all` at the photos per class
it actually used). It is computed on the full data and again on every resample, whose
percentiles give its interval. A curve already at the reference at the smallest budget
has no crossing inside the track (the set is worth at most that many photos), one that
never reaches it has none either (worth more than the largest budget); those are
reported as censored, never extrapolated. The same crossing against the source-only
model says what the plain synthetic model is worth.

The claims of the two studies (`budgets.judged`) are judged by the study's verdict rule
(`analysis.claims`): each side's correctness matrices are averaged over the claim's
budgets into one [seeds, images] matrix, so the effect is the paired a - b difference
averaged over those budgets, resampled like every other effect.

Schema (accuracies as fractions; `ci95` is the interval at `intervals.level`):

    {"study", "classes", "seeds", "real_only": method, "per_class": [1, ..., "all"],
     "photos_per_class": {budget: photos per class used},
     "intervals": {"bootstrap": text, "resamples", "level"},
     "methods": {method: {"description" (its photos per class written as b),
                          "use": only | pooled | bridged,
        "budgets": {budget: {"variant", "photos_per_class", "real_labels",
                             "test_acc": {"mean", "std", "ci95" (seeds), "per_seed",
                                          "bootstrap": {"mean", "ci95"}}}}}},
     "references": {"source_only" | "zero_label" | "oracle" (null without one):
        {"variant", "real_labels", "test_acc": {... as above}}
        (+ "criterion", "criterion_reads" for zero_label)},
     "worth": {"zero_label" | "source_only": {"method", "reference", "reference_acc",
        "photos_per_class": float | null, "censored": null | "at_most_smallest" |
        "beyond_largest", "ci95": [lo | null, hi | null], "smallest", "largest",
        "resamples": {"at_most_smallest": share, "beyond_largest": share}}},
     "claims": [{"id", "text", "a", "b", "per_class", "means": {"a", "b"}, "metric",
                 "effect": {"mean", "ci95", "p_value", "seed_ci95"}, "interval", "margin",
                 "verdict", "rule"}]}

An interval end is null when more than its tail of the resamples, (1 - level) / 2, is
censored on that side (the convention of `bootstrap.gap_closure`): the crossing is then
at most the smallest budget (lower end) or beyond the largest (upper end) at that level;
otherwise the percentiles count the censored resamples at the track's end they passed.
`worth` has no entry for a reference the run lacks.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping, Sequence

import numpy as np

from synth2real.analysis import bootstrap, claims
from synth2real.analysis.stats import describe
from synth2real.analysis.summary import INTERVALS, correctness
from synth2real.config.budgets import BudgetClaim, PerClass, variant_name
from synth2real.config.evaluation import CRITERIA, Bootstrap, Claim, Claims
from synth2real.data.imagesets import class_indices
from synth2real.data.manifests import read_csv
from synth2real.errors import DataError
from synth2real.store import read_json, write_json

log = logging.getLogger(__name__)

AT_MOST_SMALLEST, BEYOND_LARGEST = "at_most_smallest", "beyond_largest"


# -- the crossing --------------------------------------------------------------------------

def crossing(photos: Sequence[float], acc: np.ndarray,
             ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each curve first reaches its reference, in photos per class.

    `photos` (K,) ascending photos per class of the budgets; `acc` (B, K) one accuracy curve
    per row; `ref` (B,) the reference accuracy of each row. Returns (x, code), both (B,):
    code 0 -- the curve reaches the reference between budgets k-1 and k, x interpolated
    linearly in log(photos); code -1 -- it is already there at the smallest budget (x =
    that budget: the crossing is at most it); code +1 -- it never gets there (x = the
    largest budget: the crossing is beyond it). A curve that dips below the reference
    again after reaching it keeps its first crossing.
    """
    x = np.log(np.asarray(photos, dtype=np.float64))
    acc = np.atleast_2d(np.asarray(acc, dtype=np.float64))
    ref = np.atleast_1d(np.asarray(ref, dtype=np.float64))
    if acc.shape != (len(ref), len(x)):
        raise ValueError(f"curves of shape {acc.shape} for {len(ref)} references and "
                         f"{len(x)} budgets")
    if np.any(np.diff(x) <= 0):
        raise ValueError(f"photos per class must be strictly ascending, got {list(photos)}")
    reached = acc >= ref[:, None]
    first = np.argmax(reached, axis=1)
    code = np.where(~reached.any(axis=1), 1, np.where(first == 0, -1, 0))
    k = np.clip(first, 1, len(x) - 1) if len(x) > 1 else np.zeros_like(first)
    out = np.where(code == 1, float(photos[-1]), float(photos[0]))
    inside = code == 0
    if inside.any():
        rows, hi = np.nonzero(inside)[0], k[inside]
        a0, a1 = acc[rows, hi - 1], acc[rows, hi]
        t = (ref[rows] - a0) / (a1 - a0)  # a0 < ref <= a1, so 0 < t <= 1
        out[rows] = np.exp(x[hi - 1] + t * (x[hi] - x[hi - 1]))
    return out, code


def worth(photos: Sequence[float], curve: Sequence[np.ndarray], reference: np.ndarray,
          rs: bootstrap.Resamples, method: str, reference_name: str) -> dict[str, object]:
    """The crossing of one method's curve with one reference, on the full data and per resample.

    `curve`: the method's K correctness matrices (budget order), each [S, N]; `reference`: the
    reference's [S, N] matrix. The resampled curves and reference use the same resamples, so
    the interval is paired.
    """
    full_curve = np.array([[C.mean() for C in curve]])
    x, code = crossing(photos, full_curve, np.array([reference.mean()]))
    boot_curve = np.stack([bootstrap.accuracy(C, rs) for C in curve], axis=1)  # (B, K)
    bx, bcode = crossing(photos, boot_curve, bootstrap.accuracy(reference, rs))
    below, beyond = float(np.mean(bcode == -1)), float(np.mean(bcode == 1))
    lo, hi = bootstrap.interval(bx, rs.level)
    tail = (1 - rs.level) / 2
    out: dict[str, object] = {
        "method": method, "reference": reference_name, "reference_acc": float(reference.mean()),
        "photos_per_class": float(x[0]) if code[0] == 0 else None,
        "censored": {-1: AT_MOST_SMALLEST, 0: None, 1: BEYOND_LARGEST}[int(code[0])],
        "ci95": [None if below > tail else lo, None if beyond > tail else hi],
        "smallest": float(photos[0]), "largest": float(photos[-1]),
        "resamples": {AT_MOST_SMALLEST: below, BEYOND_LARGEST: beyond},
    }
    if rs.level != 0.95:
        out["level"] = rs.level
    return out


# -- reading the models' metrics ------------------------------------------------------------

def read_models(paths: Sequence[str], variant: str, seeds: Sequence[int],
                n_test: int) -> list[dict]:
    """The per-seed metrics of `variant` (`paths` in `seeds` order), checked to be that
    variant's, that seed's, and scored on the `n_test` images of the test manifest."""
    out = []
    for path, seed in zip(paths, seeds, strict=True):
        m = read_json(path)
        pred = (m.get("test") or {}).get("pred")
        if m.get("variant", variant) != variant or int(m.get("seed", -1)) != seed:
            raise DataError(f"{path}: metrics of {m.get('variant')!r} seed {m.get('seed')}, "
                            f"expected {variant!r} seed {seed}; the rule's inputs and its "
                            "`variants`/`seeds` params are out of step (rerun the workflow)")
        if pred is None or len(pred) != n_test:
            raise DataError(f"{path}: key test.pred has {None if pred is None else len(pred)} "
                            f"predictions, the real-test manifest {n_test} rows; rerun the "
                            f"training rule of {variant!r}")
        out.append(m)
    return out


def real_labels(models: Sequence[Mapping], paths: Sequence[str]) -> int:
    """Labeled real photos one model trained on (all classes); the same for every seed.

    Metrics written before the track counted none: a model on synthetic labels used 0.
    """
    counts = set()
    for m, path in zip(models, paths, strict=True):
        n = m.get("real_labels")
        if n is None:
            if m.get("labels", "synthetic") != "synthetic":
                raise DataError(f"{path}: no key real_labels for a model trained on "
                                f"{m.get('labels')!r} labels; rerun its training rule")
            n = 0
        counts.add(int(n))
    if len(counts) != 1:
        raise DataError(f"{paths[0]} ...: real_labels differs between seeds ({sorted(counts)}); "
                        "every seed draws the same number of photos per class: rerun training")
    return counts.pop()


def photos_per_class(models: Sequence[Mapping], paths: Sequence[str]) -> int:
    """Photos per class a budget variant used (`target_labels.photos_per_class`), every seed."""
    counts = set()
    for m, path in zip(models, paths, strict=True):
        tl = m.get("target_labels")
        if not isinstance(tl, Mapping) or "photos_per_class" not in tl:
            raise DataError(f"{path}: no key target_labels.photos_per_class (a budget variant "
                            "records the labeled photos it drew); rerun its training rule")
        counts.add(int(tl["photos_per_class"]))
    if len(counts) != 1:
        raise DataError(f"{paths[0]} ...: target_labels.photos_per_class differs between seeds "
                        f"({sorted(counts)}); rerun training")
    return counts.pop()


def generic(description: str | None, b: PerClass) -> str | None:
    """A budget variant's description for the method at any budget: its count of photos
    ("10 labeled real photos per class", `TargetLabels.describe`) written as b."""
    return None if description is None else description.replace(f"{b} labeled", "b labeled")


def accuracy_stat(C: np.ndarray, seeds: Sequence[int],
                  rs: bootstrap.Resamples) -> dict[str, object]:
    """Seed statistics of one [S, N] correctness matrix, with its bootstrap interval."""
    out = describe({s: float(row.mean()) for s, row in zip(seeds, C, strict=True)})
    out["bootstrap"] = bootstrap.describe(C, rs)
    return out


# -- the stage ----------------------------------------------------------------------------

def reference_variants(summary: Mapping, summary_path: str) -> dict[str, str | None]:
    """Role -> variant of the three references, from the summary (oracle None without one)."""
    try:
        sel = summary["model_selection"]
        crit = sel["deploy_criterion"]
        out = {"source_only": summary["source_only"],
               "zero_label": sel["criteria"][crit]["variant"], "oracle": summary.get("oracle")}
    except (KeyError, TypeError) as e:
        raise DataError(f"{summary_path}: no key {e} (source_only, oracle, model_selection."
                        "criteria[deploy_criterion].variant); rerun rule summary") from None
    return out


def judge(items: Sequence[BudgetClaim], curves: Mapping[str, Mapping[PerClass, np.ndarray]],
          seeds: Sequence[int], rs: bootstrap.Resamples, rule: Claims) -> list[dict[str, object]]:
    """Each claim's verdict on its sides' correctness averaged over its budgets."""
    correct: dict[str, np.ndarray] = {}
    test_acc: dict[str, dict[str, float]] = {}
    judged: list[Claim] = []
    for c in items:
        sides = []
        for m in (c.a, c.b):
            missing = [b for b in c.per_class if b not in curves.get(m, {})]
            if missing:
                raise DataError(f"budget claim {c.id!r}: method {m!r} has no models at budget(s) "
                                f"{missing} (methods {list(curves)}, budgets of each as trained); "
                                "fix budgets.claims or budgets.per_class")
            # A name no real variant has: the method at the mean of its claim's budgets.
            name = variant_name(m, "+".join(map(str, c.per_class)))  # type: ignore[arg-type]
            C = np.mean([curves[m][b] for b in c.per_class], axis=0)  # [S, N], floats
            correct[name] = C
            test_acc[name] = {str(s): float(row.mean()) for s, row in zip(seeds, C, strict=True)}
            sides.append(name)
        judged.append(Claim(id=c.id, text=c.text, a=sides[0], b=sides[1]))
    out = claims.evaluate(rule, correct, {}, test_acc, rs, items=judged) if judged else []
    for c, j, r in zip(items, judged, out, strict=True):
        r.update(a=c.a, b=c.b, per_class=list(c.per_class),
                 means={"a": float(correct[j.a].mean()), "b": float(correct[j.b].mean())})
    return out


def build(*, study: str, classes: Sequence[str], seeds: Sequence[int],
          per_class: Sequence[PerClass],
          methods: Mapping[str, Mapping[PerClass, tuple[list[dict], list[str]]]],
          refs: Mapping[str, tuple[str, list[dict], list[str]] | None], real_only: str,
          items: Sequence[BudgetClaim], y: np.ndarray, boot: Bootstrap, rule: Claims,
          criterion: str | None = None) -> dict[str, object]:
    """budgets.json from loaded metrics: `methods[m][b]` = (per-seed metrics, their paths);
    `refs[role]` = (variant, per-seed metrics, their paths) or None."""
    rs = bootstrap.draw(len(seeds), len(y), boot)
    curves = {m: {b: correctness(ms, seeds, y) for b, (ms, _) in by_b.items()}
              for m, by_b in methods.items()}
    photos: dict[str, int] = {}
    out_methods: dict[str, object] = {}
    for m, by_b in methods.items():
        rows: dict[str, object] = {}
        for b, (ms, paths) in by_b.items():
            n = photos_per_class(ms, paths)
            if photos.setdefault(str(b), n) != n:
                raise DataError(f"{paths[0]}: {n} photos per class at budget {b!r}, another "
                                f"method's models used {photos[str(b)]}; rerun training")
            rows[str(b)] = {"variant": variant_name(m, b), "photos_per_class": n,
                            "real_labels": real_labels(ms, paths),
                            "test_acc": accuracy_stat(curves[m][b], seeds, rs)}
        b0, (ms0, _) = next(iter(by_b.items()))
        tl = ms0[0].get("target_labels") or {}
        description = (ms0[0].get("method") or {}).get("description")
        out_methods[m] = {"description": generic(description, b0), "use": tl.get("use"),
                          "budgets": rows}
    xs = [photos[str(b)] for b in per_class]
    if any(b <= a for a, b in itertools.pairwise(xs)):
        raise DataError(f"photos per class {dict(zip(map(str, per_class), xs))} do not grow "
                        "with budgets.per_class: a budget larger than the oracle split draws all "
                        "of it; drop it from budgets.per_class")
    ref_out: dict[str, object] = {}
    ref_correct: dict[str, np.ndarray] = {}
    for role, entry in refs.items():
        if entry is None:
            ref_out[role] = None
            continue
        v, ms, paths = entry
        ref_correct[role] = correctness(ms, seeds, y)
        ref_out[role] = {"variant": v, "real_labels": real_labels(ms, paths),
                         "test_acc": accuracy_stat(ref_correct[role], seeds, rs)}
    if criterion is not None and ref_out.get("zero_label"):
        ref_out["zero_label"] |= {"criterion": criterion, "criterion_reads": CRITERIA[criterion][1]}
    curve = [curves[real_only][b] for b in per_class] if real_only in curves else None
    worth_out = {role: worth(xs, curve, ref_correct[role], rs, real_only,
                             ref_out[role]["variant"])
                 for role in ("zero_label", "source_only") if curve and role in ref_correct}
    return {
        "study": study, "classes": list(classes), "seeds": list(seeds), "real_only": real_only,
        "per_class": list(per_class), "photos_per_class": photos,
        "intervals": {"bootstrap": INTERVALS["bootstrap"].format(resamples=boot.resamples),
                      "resamples": boot.resamples, "level": boot.level},
        "methods": out_methods, "references": ref_out, "worth": worth_out,
        "claims": judge(items, curves, seeds, rs, rule),
    }


def summarize(metrics: list[str], study_metrics: list[str], summary: str, real_test: str,
              budgets: str, *, classes: list[str], seeds: list[int],
              variants: list[str], per_class: list[PerClass], methods: list[str], real_only: str,
              claims: list[BudgetClaim], resampling: Bootstrap, verdict_rule: Claims) -> None:
    """Stage: the budget variants' metrics (`metrics`: method by method in `methods` order,
    budget by budget in `per_class` order, seed by seed), the study variants' metrics
    (`study_metrics`: variant by variant in `variants` order, seed by seed; only the
    summary's source-only, zero-label pick and oracle are read), the summary and the
    real-test manifest -> `budgets` (results/budgets.json)."""
    n_seeds = len(seeds)
    if not methods or not per_class:
        raise DataError("budgets.methods or budgets.per_class is empty: the track has no model "
                        "to summarize (the workflow runs this rule only with the track)")
    if len(metrics) != len(methods) * len(per_class) * n_seeds:
        raise DataError(f"{len(metrics)} budget metrics files for {len(methods)} methods x "
                        f"{len(per_class)} budgets x {n_seeds} seeds; the rule's inputs and params "
                        "are out of step")
    if len(study_metrics) != len(variants) * n_seeds:
        raise DataError(f"{len(study_metrics)} reference metrics files for {len(variants)} "
                        f"variants x {n_seeds} seeds; the rule's inputs and params are out of step")
    y = class_indices([r["label"] for r in read_csv(real_test)], classes, real_test)
    loaded = read_json(summary)
    iv = loaded.get("intervals") or {}
    if (iv.get("resamples"), iv.get("level")) != (resampling.resamples, resampling.level):
        raise DataError(f"{summary}: intervals from {iv.get('resamples')} resamples at level "
                        f"{iv.get('level')}, the config's evaluation.bootstrap says "
                        f"{resampling.resamples} at {resampling.level}; rerun rule summary")
    if len(loaded.get("seeds", [])) and list(loaded["seeds"]) != list(seeds):
        raise DataError(f"{summary}: seeds {loaded['seeds']}, the config's {seeds}; rerun rule "
                        "summary")
    by_method: dict[str, dict[PerClass, tuple[list[dict], list[str]]]] = {}
    it = iter(range(0, len(metrics), n_seeds))
    for m in methods:
        by_method[m] = {}
        for b in per_class:
            i = next(it)
            paths = metrics[i:i + n_seeds]
            by_method[m][b] = (read_models(paths, variant_name(m, b), seeds, len(y)), paths)
    roles = reference_variants(loaded, summary)
    refs: dict[str, tuple[str, list[dict], list[str]] | None] = {}
    for role, v in roles.items():
        if v is None:
            refs[role] = None
            continue
        if v not in variants:
            raise DataError(f"{summary}: the {role.replace('_', '-')} reference {v!r} is not "
                            f"among the study's variants {variants}; rerun rule summary")
        i = variants.index(v) * n_seeds
        paths = study_metrics[i:i + n_seeds]
        ms = read_models(paths, v, seeds, len(y))
        mean = float(correctness(ms, seeds, y).mean())
        listed = (loaded.get("variants", {}).get(v) or {}).get("test_acc", {}).get("mean")
        if listed is None or not math.isclose(listed, mean, abs_tol=1e-9):
            raise DataError(f"{summary}: variants.{v}.test_acc.mean is {listed}, its metrics "
                            f"files ({paths[0]}, ...) give {mean}; the summary is stale: rerun "
                            "rule summary")
        refs[role] = (v, ms, paths)
    out = build(study=loaded.get("study", ""), classes=classes, seeds=seeds, per_class=per_class,
                methods=by_method, refs=refs, real_only=real_only, items=claims, y=y,
                boot=resampling, rule=verdict_rule,
                criterion=loaded["model_selection"]["deploy_criterion"])
    write_json(out, budgets)
    for role, w in out["worth"].items():
        at = (f"{w['photos_per_class']:.1f} photos per class, interval {w['ci95']}"
              if w["censored"] is None else f"no budget ({w['censored']})")
        log.info("%s reaches %s %s at %s", real_only, role, w["reference"], at)
