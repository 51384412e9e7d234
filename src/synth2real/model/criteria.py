"""Model-selection scores computed without the test set (names and directions: config CRITERIA).

Every trained model is scored once, at training time, on what a practitioner
has: the labeled source validation split, the unlabeled pool, and a small
labeled target-validation split. The summary picks a variant per criterion.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

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


# MixVal's mixing weight (Hu et al. 2023; skada's MixValScorer default): the mixed input keeps
# the first image's pseudo-label.
MIXVAL_ALPHA = 0.55


def mixval(predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, seed: int,
           alpha: float = MIXVAL_ALPHA) -> float:
    """MixVal (Hu et al., NeurIPS 2023), interpolation consistency on the pool: each image i
    is mixed with image perm(i) of a random permutation (drawn from `seed`, the same pairs
    for every candidate), x = alpha x_i + (1 - alpha) x_perm(i), in the model's *input* space
    (here the cached backbone features, or a block model's block inputs: features are mixed,
    not pixels). The score is the accuracy of the model's predictions on the mixed inputs
    against the first image's pseudo-label (its own prediction), averaged over the
    intra-cluster pairs (same pseudo-label) and the inter-cluster pairs (different ones), as
    skada's MixValScorer(ice_type="both") computes it. Higher is better."""
    labels = predict(X).argmax(1)
    perm = np.random.default_rng(seed).permutation(len(X))
    mixed = (alpha * X.astype(np.float32) + (1 - alpha) * X[perm].astype(np.float32))
    hit = predict(mixed).argmax(1) == (labels if alpha >= 0.5 else labels[perm])
    same = labels == labels[perm]
    parts = [hit[mask].mean() for mask in (same, ~same) if mask.any()]
    return float(np.mean(parts))


def ensv(pool_probs: Mapping[str, np.ndarray],
         members: Sequence[str] | None = None) -> dict[str, float]:
    """EnsV (ensemble-based validation, Hu et al. 2024): each model's agreement with the
    averaged prediction of the candidates `members` (default: every model given) on the pool
    -- the share of pool images whose top-1 class is the ensemble's. Models -> [P, C] pool
    probabilities of one seed. Higher is better; the pool's labels are never read."""
    pseudo = np.mean([pool_probs[m] for m in (members or list(pool_probs))], 0).argmax(1)
    return {name: float((p.argmax(1) == pseudo).mean()) for name, p in pool_probs.items()}


def dev(val_loss: np.ndarray, weights: np.ndarray) -> float:
    """Deep embedded validation (You et al., ICML 2019): the source val loss [N] weighted by
    the density ratio `weights` [N] (`synth2real.analysis.domain.density_ratio`, in the model's representation), with
    the control variate that lowers its variance: with l = w * loss and
    eta = -Cov(l, w) / Var(w), DEV = mean(l) + eta mean(w) - eta (skada's
    DeepEmbeddedValidation). Lower is better."""
    weighted = weights * val_loss
    var = np.var(weights, ddof=1)
    eta = 0.0 if var == 0 else -np.cov(weighted, weights)[0, 1] / var
    return float(np.mean(weighted) + eta * np.mean(weights) - eta)
