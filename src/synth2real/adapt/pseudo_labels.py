"""Pseudo-label selection: which unlabeled pool images get a pseudo-label, and how good the choice was.

All selectors see only the source model's logits / probabilities; the pool's
true labels are never an input (they enter `diagnostics` alone, to report how
good the accepted labels were).

- threshold: the study's rule, confidence strictly above one global threshold;
- class-balanced: per *predicted* class, the most confident images up to an
  equal quota, so one easy class cannot flood the pseudo-labeled set;
- out-of-domain rejection: an energy or entropy score flags images that look
  like none of the classes; the pool's highest-scoring share is dropped before
  any label is chosen.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import logsumexp


def balanced(probs: np.ndarray, share: float, threshold: float | None = None,
             candidates: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(indices, labels): per predicted class, the top-confidence images up to a quota.

    quota = floor(share * n / C) with n the number of candidate images and C the
    number of classes; a class predicted fewer times than its quota keeps all
    its images (above `threshold`, if given). Indices are sorted ascending.
    """
    if not 0.0 < share <= 1.0:
        raise ValueError(f"share must be in (0, 1], got {share}")
    cand = np.arange(len(probs)) if candidates is None else np.asarray(candidates)
    n_classes = probs.shape[1]
    quota = int(share * len(cand) / n_classes)
    pred, conf = probs[cand].argmax(1), probs[cand].max(1)
    keep = []
    for k in range(n_classes):
        mine = np.flatnonzero(pred == k)
        if threshold is not None:
            mine = mine[conf[mine] > threshold]
        keep.append(mine[np.argsort(-conf[mine], kind="stable")[:quota]])
    idx = np.sort(cand[np.concatenate(keep)]) if keep else np.zeros(0, np.int64)
    return idx, probs[idx].argmax(1)


def _energy(logits: np.ndarray) -> np.ndarray:
    return -logsumexp(logits, axis=1)


def _entropy(logits: np.ndarray) -> np.ndarray:
    logp = logits - logsumexp(logits, axis=1, keepdims=True)
    return -(np.exp(logp) * logp).sum(1)


# The `reject` part's scores (its `score` setting): logits [P, C] -> higher = more likely
# out-of-domain. energy: -logsumexp(logits); entropy: H(softmax).
OOD_SCORES = {"energy": _energy, "entropy": _entropy}


def ood_score(logits: np.ndarray, score: str) -> np.ndarray:
    """Higher = more likely out-of-domain, by `OOD_SCORES[score]`."""
    if score not in OOD_SCORES:
        raise ValueError(f"unknown OOD score {score!r}; one of {sorted(OOD_SCORES)}")
    return OOD_SCORES[score](logits)


def in_domain(logits: np.ndarray, score: str, reject_share: float) -> np.ndarray:
    """Indices of pool images kept as in-domain: all but the `reject_share` highest scores."""
    if not 0.0 <= reject_share < 1.0:
        raise ValueError(f"reject_share must be in [0, 1), got {reject_share}")
    s = ood_score(logits, score)
    n_keep = len(s) - round(reject_share * len(s))
    return np.sort(np.argsort(s, kind="stable")[:n_keep])


def threshold(probs: np.ndarray, t: float,
              candidates: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(indices, labels) of pool images whose top probability is strictly above `t`,
    restricted to `candidates` when given."""
    if not 0.0 < t < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {t}")
    idx = np.flatnonzero(probs.max(1) > t)
    labels = probs[idx].argmax(1)
    if candidates is None:
        return idx, labels
    keep = np.isin(idx, candidates)
    return idx[keep], labels[keep]


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
