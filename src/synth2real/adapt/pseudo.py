"""Pseudo-label selection on the unlabeled real pool, and its diagnostics.

Selection sees only the source model's probabilities; the pool's true labels
enter `diagnostics` alone, to report how good the accepted labels were.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def select(probs: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(indices, labels) of pool images whose top probability is strictly above `threshold`."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    conf = probs.max(1)
    idx = np.flatnonzero(conf > threshold)
    return idx, probs[idx].argmax(1)


def diagnostics(
    idx: np.ndarray, labels: np.ndarray, true_labels: Sequence[str], in_domain: Sequence[int],
    classes: Sequence[str],
) -> dict[str, object]:
    """Accepted count per (predicted) class, pseudo-label accuracy, out-of-domain acceptance.

    An accepted out-of-domain image counts as a wrong pseudo-label: it carries
    one of the study's labels but shows none of its classes.
    """
    true = np.asarray(true_labels)
    ind = np.asarray(in_domain, dtype=bool)
    given = np.asarray(classes)[labels] if len(labels) else np.asarray([], dtype=str)
    correct = given == true[idx]
    n_ood = int((~ind).sum())
    ood_in = int((~ind[idx]).sum())
    return {
        "pool_size": len(true),
        "accepted": len(idx),
        "accepted_share": float(len(idx) / len(true)) if len(true) else 0.0,
        "accepted_per_class": {c: int((labels == k).sum()) for k, c in enumerate(classes)},
        "pseudo_label_acc": float(correct.mean()) if len(idx) else None,
        "ood_in_pool": n_ood,
        "ood_accepted": ood_in,
        "ood_accepted_share": float(ood_in / n_ood) if n_ood else 0.0,
    }
