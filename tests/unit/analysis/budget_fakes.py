"""A fake labeled-budget run with known answers: per-seed metrics of every budget variant and of
the three references, a summary naming them, a real-test manifest, and the budgets.json the
track's stage writes from them (`make_budgets`). The report's tests draw from the same run.

Every model's accuracy is exact: seed s of a model with accuracy a gets round((a + d_s) N)
of the N test images right (d = -1, 0, +1 points), which images chosen at random per model
and seed, so the mean over seeds is a and the bootstrap has noise to resample.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from synth2real.analysis import budgets as track
from synth2real.config.budgets import BudgetClaim, variant_name
from synth2real.config.evaluation import Bootstrap, Claims

N = 300
SEEDS = [0, 1, 2]
CLASSES = ["dog", "cat", "bird"]
ALL = 190  # photos per class of the oracle split: the `all` budget's
PER_CLASS: list = [1, 3, 10, 30, 100, "all"]
# method -> real-test accuracy at each budget of PER_CLASS
CURVES = {
    "real-only": [0.40, 0.50, 0.60, 0.70, 0.80, 0.90],
    "bridged": [0.62, 0.66, 0.72, 0.78, 0.84, 0.90],
    "pooled": [0.55, 0.56, 0.60, 0.66, 0.75, 0.86],
}
USE = {"real-only": "only", "bridged": "bridged", "pooled": "pooled"}
# role -> (variant, accuracy): the source-only model, the deploy criterion's pick, the oracle.
# real-only crosses the pick's 0.65 halfway between 10 and 30 photos (sqrt(300) on the log
# axis) and source-only's 0.45 halfway between 1 and 3 (sqrt(3)).
REFS = {"source_only": ("synthetic-1000", 0.45), "zero_label": ("threshold-0.9", 0.65),
        "oracle": ("oracle", 0.90)}
STUDY_VARIANTS = ["synthetic-500", "synthetic-1000", "pseudo-label", "threshold-0.9", "oracle"]
OTHER_ACC = {"synthetic-500": 0.42, "pseudo-label": 0.50}
RESAMPLES = 400
CLAIMS = [BudgetClaim(id="bridged-beats-real-only", a="bridged", b="real-only", per_class=[1, 3],
                      text="bridged transfer beats the few real photos alone"),
          BudgetClaim(id="pooling-at-100", a="pooled", b="real-only", per_class=[100],
                      text="pooling beats the photos alone at 100 per class")]


def photos(b) -> int:
    return ALL if b == "all" else int(b)


def model(variant: str, seed: int, acc: float, y: np.ndarray, **extra) -> dict:
    """One model's metrics.json with exactly round(acc N) test images right."""
    rng = np.random.default_rng([seed, *map(ord, variant)])
    pred = y.copy()
    wrong = rng.permutation(len(y))[: len(y) - round(acc * len(y))]
    pred[wrong] = (y[wrong] + 1) % len(CLASSES)
    return {"seed": seed, "variant": variant, "labels": "synthetic", "n_train": 100,
            "real_labels": 0, "target_labels": None, "method": {"description": variant},
            "train": {"acc": 0.99}, "val": {"acc": 0.98},
            "test": {"acc": float((pred == y).mean()), "n": len(y), "pred": pred.tolist()},
            **extra}


def _seed_acc(acc: float, k: int, variant: str) -> float:
    """Seed k's accuracy: the mean `acc` plus -x, 0, +x (x of 1 to 3 points, by variant, so
    that paired differences between models vary over seeds too)."""
    return acc + (k - 1) * 0.01 * (1 + sum(map(ord, variant)) % 3)


def write_run(root: Path, curves: Mapping[str, Sequence[float]] = CURVES,
              per_class: Sequence = PER_CLASS, refs: Mapping[str, tuple[str, float]] = REFS,
              oracle: bool = True) -> dict:
    """Write the fake run under `root`; returns the stage's keyword arguments (no output)."""
    y = np.arange(N) % len(CLASSES)
    root.mkdir(parents=True, exist_ok=True)
    (root / "real_test.csv").write_text(
        "path,label\n" + "".join(f"t{i}.png,{CLASSES[k]}\n" for i, k in enumerate(y)))

    def write(m: dict) -> str:
        p = root / "heads" / m["variant"] / f"seed{m['seed']}" / "metrics.json"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(m))
        return str(p)

    metrics = []
    for method, accs in curves.items():
        for b, acc in zip(per_class, accs, strict=True):
            v = variant_name(method, b)
            for k, s in enumerate(SEEDS):
                tl = {"use": USE.get(method, "only"), "per_class": None if b == "all" else b,
                      "photos_per_class": photos(b)}
                metrics.append(write(model(
                    v, s, _seed_acc(acc, k, v), y, labels="target" if tl["use"] == "only"
                    else "synthetic+target", real_labels=photos(b) * len(CLASSES),
                    target_labels=tl, method={"description": f"{b} labeled real photos per class "
                                                            f"({method})"})))
    acc_of = {**OTHER_ACC, **{v: a for v, a in refs.values()}}
    study_metrics, means = [], {}
    for v in STUDY_VARIANTS:
        extra = ({"labels": "target", "real_labels": ALL * len(CLASSES)} if v == "oracle" else {})
        ms = [model(v, s, _seed_acc(acc_of[v], k, v), y, **extra) for k, s in enumerate(SEEDS)]
        study_metrics += [write(m) for m in ms]
        means[v] = float(np.mean([m["test"]["acc"] for m in ms]))
    summary = {"study": "toy", "seeds": SEEDS, "source_only": refs["source_only"][0],
               "oracle": refs["oracle"][0] if oracle else None,
               "intervals": {"resamples": RESAMPLES, "level": 0.95},
               "variants": {v: {"test_acc": {"mean": m}} for v, m in means.items()},
               "model_selection": {"deploy_criterion": "target_val_acc", "criteria": {
                   "target_val_acc": {"variant": refs["zero_label"][0]}}}}
    (root / "summary.json").write_text(json.dumps(summary))
    return {"metrics": metrics, "study_metrics": study_metrics,
            "summary": str(root / "summary.json"), "real_test": str(root / "real_test.csv"),
            "classes": CLASSES, "seeds": SEEDS, "variants": STUDY_VARIANTS,
            "per_class": list(per_class), "methods": list(curves), "real_only": "real-only",
            "claims": CLAIMS, "resampling": Bootstrap(resamples=RESAMPLES),
            "verdict_rule": Claims()}


def make_budgets(root: Path, **overrides) -> dict:
    """budgets.json of the fake run (stage keyword arguments overridden by `overrides`)."""
    run = {k: v for k, v in overrides.items() if k in ("curves", "per_class", "refs", "oracle")}
    kw = write_run(root, **run) | {k: v for k, v in overrides.items() if k not in run}
    out = root / "budgets.json"
    track.summarize(**kw, budgets=str(out))
    return json.loads(out.read_text())
