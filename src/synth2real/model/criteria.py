"""Model-selection scores computed without the test set (names and directions: config CRITERIA).

Every trained model is scored once, at training time, on what a practitioner
has: the labeled source validation split, the unlabeled pool, and a small
labeled target-validation split. The summary picks a variant per criterion.
"""

from __future__ import annotations

import numpy as np

# Soft neighbourhood density's temperature (Saito et al. 2021, their default).
SND_TEMPERATURE = 0.05


def entropy(probs: np.ndarray) -> np.ndarray:
    """Shannon entropy (nats) of each row of `probs`."""
    return -(probs * np.log(np.clip(probs, 1e-12, 1))).sum(-1)


def mean_entropy(probs: np.ndarray) -> float:
    """Mean prediction entropy: low when the model is confident on the pool."""
    return float(entropy(probs).mean())


def information_maximisation(probs: np.ndarray) -> float:
    """H(mean prediction) - mean H(prediction): confident *and* diverse predictions score high,
    so a model that puts the whole pool into one class does not win (unlike entropy alone)."""
    return float(entropy(probs.mean(0)) - entropy(probs).mean())


def soft_neighbourhood_density(probs: np.ndarray, temperature: float = SND_TEMPERATURE) -> float:
    """SND (Saito et al. 2021): mean entropy of each pool image's softmax-weighted similarity
    to the other pool images, on L2-normalised predictions. High when predictions form dense
    neighbourhoods (clusters), which tracks target accuracy better than confidence alone.

    Per row, with s_j the scaled similarities to the other images, m their maximum and
    Z = sum_j exp(s_j - m): H = log Z - sum_j exp(s_j - m) (s_j - m) / Z, in float32 over
    the [P, P] similarities (every model of the study is scored on this, so it is kept to one
    exponential per pair); the mean over rows in float64.
    """
    p = np.asarray(probs, np.float32)
    p = p / np.linalg.norm(p, axis=1, keepdims=True).clip(1e-12)
    s = p @ p.T
    s *= np.float32(1 / temperature)
    np.fill_diagonal(s, -np.inf)  # an image is not its own neighbour
    s -= s.max(1, keepdims=True)
    e = np.exp(s)
    np.fill_diagonal(s, 0.0)  # its weight is exp(-inf) = 0; 0 * 0 instead of 0 * -inf
    z = e.sum(1, dtype=np.float64)
    weighted = np.einsum("ij,ij->i", e, s, dtype=np.float64)
    return float(np.mean(np.log(z) - weighted / z))


def pool_scores(pool_probs: np.ndarray) -> dict[str, float]:
    """The label-free criteria that read only the unlabeled pool's predictions."""
    return {"pool_entropy": mean_entropy(pool_probs),
            "pool_im": information_maximisation(pool_probs),
            "snd": soft_neighbourhood_density(pool_probs)}
