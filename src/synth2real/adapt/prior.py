"""Label-shift correction: the target class prior estimated on the unlabeled pool.

Under label shift p_t(x|y) = p_s(x|y), so the target posterior is the source one reweighted,
p_t(y|x) ~ p_s(y|x) pi_t(y) / pi_s(y). For a model with logits g(x) that is a constant added
to the logits, log pi_t - log pi_s: the correction is folded into the classifier's bias
(`synth2real.model.head.shift_logits`) and travels with the checkpoint and the ONNX file.

    em    Saerens, Latinne & Decaestecker (2002): start at pi_t = pi_s; reweight the pool's
          predictions with pi_t / pi_s, renormalise, pi_t = their mean; repeat
    bbse  Lipton, Wang & Smola (2018): the joint frequencies C[i, j] = P_s(prediction i,
          label j) on the labeled source val split and the pool's prediction frequencies q;
          w = C^-1 q (clipped at 0), pi_t = w * pi_s renormalised
"""

from __future__ import annotations

import numpy as np


def em(probs: np.ndarray, source_prior: np.ndarray, tol: float = 1e-6,
       max_iter: int = 1000) -> tuple[np.ndarray, int]:
    """Saerens' EM on the pool's predictions probs [P, C] of a model trained with class
    frequencies `source_prior` [C] -> (estimated target prior [C], rounds run)."""
    prior = source_prior.astype(np.float64).copy()
    ratio_base = probs.astype(np.float64) / source_prior
    for it in range(1, max_iter + 1):
        adjusted = ratio_base * prior
        adjusted /= adjusted.sum(1, keepdims=True)
        new = adjusted.mean(0)
        if np.abs(new - prior).max() < tol:
            return new, it
        prior = new
    return prior, max_iter


def bbse(val_probs: np.ndarray, val_y: np.ndarray, pool_probs: np.ndarray,
         source_prior: np.ndarray) -> np.ndarray:
    """Black-box shift estimation: the target prior [C] from the hard predictions on a labeled
    source split (val_probs [N, C], labels val_y [N]) and on the pool (pool_probs [P, C])."""
    c = pool_probs.shape[1]
    joint = np.zeros((c, c))
    np.add.at(joint, (val_probs.argmax(1), val_y), 1.0)
    joint /= len(val_y)
    q = np.bincount(pool_probs.argmax(1), minlength=c) / len(pool_probs)
    w, *_ = np.linalg.lstsq(joint, q, rcond=None)
    prior = np.clip(w, 0, None) * source_prior
    if prior.sum() <= 0:
        raise ValueError("BBSE: every estimated class weight is <= 0; the source val "
                         "predictions cannot explain the pool's (use prior: em)")
    return prior / prior.sum()


def log_ratio(target_prior: np.ndarray, source_prior: np.ndarray,
              floor: float = 1e-6) -> np.ndarray:
    """log pi_t - log pi_s, the logit shift; a class estimated absent keeps `floor`."""
    return np.log(np.maximum(target_prior, floor)) - np.log(source_prior)
