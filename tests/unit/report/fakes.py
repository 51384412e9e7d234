"""A small fake `summary.json` for the report's tests (three classes, two seeds).

Every derived number is computed from the per-seed accuracies the same way the
summary does (differences, gap closure, regret), so a table cell can be checked
against its source; only the interval widths are invented.
"""

from __future__ import annotations

import statistics

import numpy as np

from synth2real.config import CRITERIA

ORACLE_ACC = {"0": 0.95, "1": 0.97}


def _stat(values: dict[str, float]) -> dict:
    v = list(values.values())
    m, sd = statistics.mean(v), statistics.stdev(v) if len(v) > 1 else 0.0
    return {"mean": m, "std": sd, "ci95": [m - 2 * sd, m + 2 * sd], "per_seed": values}


def _boot(mean: float, half: float) -> dict:
    return {"mean": mean, "ci95": [mean - half, mean + half]}


def _variant(test: dict[str, float], labels: str = "synthetic") -> dict:
    out = {f"{split}_acc": _stat({s: a + d for s, a in test.items()})
           for split, d in (("train", 0.3), ("val", 0.2), ("test", 0.0))}
    out["test_acc"]["bootstrap"] = _boot(out["test_acc"]["mean"], 0.017)
    out["labels"] = labels
    if labels == "synthetic":  # candidates are scored on the labeled target-val split
        out["criteria"] = {"target_val_acc": _stat({s: 0.5 for s in test})}
    return out


def fake_summary(variants=("synthetic-50", "synthetic-100", "pseudo-label"), offline=True,
                 oracle=True, evaluation=True) -> dict:
    """Variant k has real-test accuracy 0.51 + 0.1 k (seeds 0.50/0.52 shifted by 0.1 k).

    `oracle`: add the target-supervised `oracle` variant (0.96); `evaluation`: add the
    comparisons, gap closure, intervals, selection and claims (else the keys of a run
    that predates them).
    """
    classes = ["dog", "cat", "bird"]
    out = {}
    for k, v in enumerate(variants):
        out[v] = _variant({"0": 0.5 + 0.1 * k, "1": 0.52 + 0.1 * k})
        out[v]["per_class_test_acc"] = {c: _stat({"0": 0.6, "1": 0.7}) for c in classes}
        out[v]["confusion"] = {"total": [[2, 0, 0], [0, 2, 0], [0, 0, 2]], "per_seed": {}}
        if v == "pseudo-label":
            out[v]["pseudo_label"] = {
                "threshold": 0.51, "accepted": _stat({"0": 90.0, "1": 94.0}),
                "accepted_share": _stat({"0": 0.9, "1": 0.94}),
                "pseudo_label_acc": _stat({"0": 0.57, "1": 0.59}),
                "ood_accepted_share": _stat({"0": 0.8, "1": 0.85}),
                "accepted_per_class": {c: _stat({"0": 30.0, "1": 31.0}) for c in classes},
                "per_seed": {},
            }
    if oracle:
        out["oracle"] = _variant(ORACLE_ACC, labels="target")
        out["oracle"]["per_class_test_acc"] = {c: _stat({"0": 0.9, "1": 0.95}) for c in classes}
        out["oracle"]["confusion"] = {"total": [[2, 0, 0], [0, 2, 0], [0, 0, 2]], "per_seed": {}}
    sizes = [v for v in variants if v.startswith("synthetic-")]
    source = max(sizes, key=lambda v: int(v.split("-")[1])) if sizes else variants[0]
    summary = {"study": "demo_study", "classes": classes, "seeds": [0, 1], "offline": offline,
               "reported": {"synthetic-100": {"train_acc": 0.99, "val_acc": 0.99, "test_acc": 0.80},
                            "pseudo-label": {"train_acc": 0.98, "val_acc": 0.99, "test_acc": 0.90}},
               "baseline": source, "core_variants": [v for v in variants if v in
                                                     ("synthetic-50", "synthetic-100", "pseudo-label")],
               "variants": out, "comparisons": [], "no_test_labels": "Nothing chosen on test labels."}
    if evaluation:
        add_evaluation(summary, oracle="oracle" if oracle else None)
    return summary


def _test(summary: dict, v: str) -> dict[str, float]:
    return summary["variants"][v]["test_acc"]["per_seed"]


def _paired(summary: dict, a: str, b: str) -> dict:
    per_seed = {s: _test(summary, a)[s] - _test(summary, b)[s] for s in _test(summary, a)}
    d = _stat(per_seed)
    boot = {**_boot(d["mean"], 0.02), "p_value": 0.01, "significant": abs(d["mean"]) > 0.02}
    return {"a": a, "b": b, "metric": "test_acc", **d, "n": 2, "p_value": 0.01,
            "significant": boot["significant"], "bootstrap": boot}


def add_evaluation(summary: dict, oracle: str | None) -> None:
    """The evaluation keys of `summary`, derived from its per-seed test accuracies."""
    variants, src = summary["variants"], summary["baseline"]
    names = [v for v in variants if v != oracle]
    summary["oracle"], summary["source_only"] = oracle, src
    # The study's smaller set is compared the other way round (larger - smaller).
    summary["comparisons"] = [_paired(summary, v, src) if v != names[0] or v == src
                              else _paired(summary, src, v) for v in variants if v != src]
    acc = {v: variants[v]["test_acc"]["mean"] for v in variants}
    if oracle:
        summary["gap_closure"] = {}
        for v in names:
            if v != src:
                per_seed = {s: (_test(summary, v)[s] - _test(summary, src)[s])
                            / (_test(summary, oracle)[s] - _test(summary, src)[s])
                            for s in _test(summary, v)}
                g = (acc[v] - acc[src]) / (acc[oracle] - acc[src])
                summary["gap_closure"][v] = {**_boot(g, 0.05), "per_seed": per_seed}
    summary["intervals"] = {"seed": "Student-t 95% interval over the 2 training seeds.",
                            "bootstrap": "Seeds and test images resampled jointly, 2000 resamples.",
                            "resamples": 2000, "level": 0.95}
    best = max(names, key=acc.get)
    # target_val_acc (the deploy criterion) picks the test-best; the others pick in turn.
    picks = {c: (best if c == "target_val_acc" else names[i % len(names)])
             for i, c in enumerate(CRITERIA)}
    summary["model_selection"] = {
        "candidates": names, "test_best": {"variant": best, "test_acc": acc[best]},
        "deploy_criterion": "target_val_acc",
        "criteria": {c: {"description": CRITERIA[c][2], "reads": CRITERIA[c][1],
                         "higher_is_better": CRITERIA[c][0], "variant": v,
                         "test_acc": variants[v]["test_acc"]["bootstrap"],
                         "gap_closure": summary.get("gap_closure", {}).get(v),
                         "regret": _boot(acc[best] - acc[v], 0.01)}
                     for c, v in picks.items()}}
    def effect(a: str, b: str, metric: str) -> float:
        if metric == "test_acc":
            return acc[a] - acc[b]
        gap = {v: variants[v]["train_acc"]["mean"] - acc[v] for v in (a, b)}
        return gap[b] - gap[a]

    claims = [("more-data", src, names[0], "test_acc"),            # +0.1: reproduced
              ("smaller-wins", names[0], src, "test_acc"),         # -0.1: not reproduced
              ("less-overfitting", names[-1], src, "overfit_gap")]  # 0: inconclusive
    summary["claims"] = []
    for i, a, b, m in claims:
        e = effect(a, b, m)
        ci = [e - 0.03, e + 0.03]
        verdict = ("reproduced" if ci[0] > 0 else "not reproduced" if ci[1] < 0.01
                   else "inconclusive")
        summary["claims"].append({
            "id": i, "text": f"{a} beats {b}", "a": a, "b": b, "metric": m,
            "effect": {"mean": e, "ci95": ci, "seed_ci95": [e - 0.1, e + 0.1]},
            "interval": "bootstrap", "margin": 0.01, "verdict": verdict,
            "rule": f"Reproduced when ...; so: {verdict}."})


def fake_refined(tmp_path, parts=("cyclegan", "fda", "mrgan", "simgan"),
                 classes=("dog", "cat", "bird"), per_class: int = 4, side: int = 32,
                 original: int = 64) -> list[str]:
    """Each part's refined manifest (`adapt.pixel.refine.REFINED_FIELDS`) over one fake source
    set: per class `per_class` originals of `original` px (rank 0 in the validation split, the
    others in the training split, listed in reverse rank order), each refined to a `side` px
    PNG per part (the original's colour, shifted by the part). Returns the manifests' paths,
    in the order of `parts`."""
    import csv

    from PIL import Image

    rng = np.random.default_rng(0)
    rows = []
    for c, cls in enumerate(classes):
        for rank in reversed(range(per_class)):
            path = tmp_path / "source" / cls / f"{rank}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            pixels = rng.integers(0, 256, (original, original, 3), dtype=np.uint8)
            pixels[..., c % 3] = 220
            Image.fromarray(pixels).save(path)
            rows.append({"path": str(path), "label": cls, "rank": str(rank),
                         "split": "val" if rank == 0 else "train"})
    out = []
    for k, part in enumerate(parts):
        listed = []
        for r in rows:
            refined = tmp_path / "pixel" / part / r["label"] / f"{r['rank']}.png"
            refined.parent.mkdir(parents=True, exist_ok=True)
            with Image.open(r["path"]) as im:
                small = np.asarray(im.resize((side, side)), dtype=np.int16)
            Image.fromarray(np.clip(small + 40 * (k + 1) - 100, 0, 255).astype(np.uint8)).save(
                refined)
            listed.append({**r, "refined": str(refined), "style": ""})
        manifest = tmp_path / "pixel" / part / "refined.csv"
        with open(manifest, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=["path", "label", "rank", "split", "refined",
                                               "style"])
            w.writeheader()
            w.writerows(listed)
        out.append(str(manifest))
    return out
