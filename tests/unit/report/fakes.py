"""A small fake `summary.json` for the report's tests (three classes, two seeds)."""

from __future__ import annotations

import statistics


def _stat(values: dict[str, float]) -> dict:
    v = list(values.values())
    return {"mean": statistics.mean(v), "std": statistics.stdev(v) if len(v) > 1 else 0.0,
            "per_seed": values}


def fake_summary(variants=("synthetic-50", "synthetic-100", "pseudo-label"), offline=True) -> dict:
    """Variant k has real-test accuracy 0.51 + 0.1 k (seeds 0.50/0.52 shifted by 0.1 k)."""
    classes = ["dog", "cat", "bird"]
    out = {}
    for k, v in enumerate(variants):
        out[v] = {f"{split}_acc": _stat({"0": 0.5 + 0.1 * k + d, "1": 0.52 + 0.1 * k + d})
                  for split, d in (("train", 0.3), ("val", 0.2), ("test", 0.0))}
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
    return {"study": "demo_study", "classes": classes, "seeds": [0, 1], "offline": offline,
            "reported": {"synthetic-100": {"train_acc": 0.99, "val_acc": 0.99, "test_acc": 0.80},
                         "pseudo-label": {"train_acc": 0.98, "val_acc": 0.99, "test_acc": 0.90}},
            "variants": out}
