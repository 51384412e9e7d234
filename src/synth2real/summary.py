"""Aggregating per-seed metrics into `results/summary.json`.

Schema (fractions in [0, 1]):

    {"classes": [...], "seeds": [...], "config_hash": ..., "git_commit": ...,
     "reported": {variant: {"train_acc", "val_acc", "test_acc"}},
     "variants": {variant: {
        "train_acc" | "val_acc" | "test_acc": {"mean", "std", "per_seed": {seed: value}},
        "per_class_test_acc": {class: {"mean", "std", "per_seed"}},
        "confusion": {"total": [[...]], "per_seed": {seed: [[...]]}},   # rows: true class
        "pseudo_label": {... per-seed diagnostics and their means}      # pseudo-label only
     }}}

`std` is the sample standard deviation over seeds (ddof=1; 0 for one seed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from synth2real import provenance
from synth2real.config import Study

# The published single-run numbers (DESIGN.md §1), as fractions.
REPORTED = {
    "synthetic-500": {"train_acc": 0.9917, "val_acc": 0.9933, "test_acc": 0.8455},
    "synthetic-1000": {"train_acc": 0.9919, "val_acc": 0.9958, "test_acc": 0.8743},
    "pseudo-label": {"train_acc": 0.9879, "val_acc": 0.9963, "test_acc": 0.9162},
}


def stat(per_seed: Mapping[int, float]) -> dict[str, object]:
    v = np.array(list(per_seed.values()), dtype=np.float64)
    return {
        "mean": float(v.mean()),
        "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
        "per_seed": {str(s): float(x) for s, x in per_seed.items()},
    }


def variant_summary(metrics: Sequence[Mapping], classes: Sequence[str]) -> dict[str, object]:
    """Summary of one variant from its per-seed `metrics.json` contents."""
    by_seed = {int(m["seed"]): m for m in metrics}
    out: dict[str, object] = {
        f"{split}_acc": stat({s: m[split]["acc"] for s, m in by_seed.items()})
        for split in ("train", "val", "test")
    }
    out["per_class_test_acc"] = {
        c: stat({s: m["test"]["per_class_acc"][c] for s, m in by_seed.items()}) for c in classes
    }
    cms = {s: np.array(m["test"]["confusion"]) for s, m in by_seed.items()}
    out["confusion"] = {"total": sum(cms.values()).tolist(),
                        "per_seed": {str(s): cm.tolist() for s, cm in cms.items()}}
    diags = {s: m["pseudo_label"] for s, m in by_seed.items() if "pseudo_label" in m}
    if diags:
        numeric = ["accepted", "accepted_share", "pseudo_label_acc", "ood_accepted_share"]
        out["pseudo_label"] = {
            "threshold": next(iter(diags.values()))["threshold"],
            **{k: stat({s: d[k] for s, d in diags.items() if d[k] is not None}) for k in numeric},
            "accepted_per_class": {
                c: stat({s: d["accepted_per_class"][c] for s, d in diags.items()}) for c in classes
            },
            "per_seed": {str(s): {k: v for k, v in d.items() if k != "source_model"}
                         for s, d in diags.items()},
        }
    return out


def build(cfg: Study, metrics_by_variant: Mapping[str, Sequence[Mapping]]) -> dict[str, object]:
    return {
        "study": cfg.name,
        "classes": list(cfg.classes),
        "seeds": list(cfg.seeds),
        "config_hash": provenance.config_hash(cfg),
        "git_commit": provenance.git_commit(),
        "offline": cfg.bundle is not None,
        "reported": {v: REPORTED[v] for v in metrics_by_variant if v in REPORTED},
        "variants": {v: variant_summary(ms, cfg.classes) for v, ms in metrics_by_variant.items()},
    }
