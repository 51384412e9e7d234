"""Joint bootstrap over training seeds and test images, paired across variants.

A variant's results are a 0/1 correctness matrix C of shape (S seeds, N test
images): C[s, i] says whether the model trained with seed s labels test image
i correctly. Every variant is trained on the same seeds and scored on the same
images, so rows and columns line up across variants.

One resample draws S seeds and N images, each with replacement. It is stored
as multiplicity weights -- U[b, s] how often seed s was drawn, W[b, i] how
often image i was -- so the accuracy of resample b is

    sum_s U[b, s] * (C[s] @ W[b]) / (S * N),

a matrix product over all resamples at once. The same draws serve every
variant: a difference between two variants is computed resample by resample
(a paired bootstrap), which cancels the seed and image noise they share.
Intervals are percentile intervals. The key `ci95` names the interval whatever
its level; a `level` key sits beside it when the level is not 0.95.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from synth2real.config.evaluation import Bootstrap


@dataclass(frozen=True)
class Resamples:
    """B joint resamples: seed multiplicities U (B, S), image multiplicities W (B, N)."""

    U: np.ndarray
    W: np.ndarray
    level: float = 0.95

    @property
    def shape(self) -> tuple[int, int]:
        """(S, N): the correctness-matrix shape these resamples fit."""
        return self.U.shape[1], self.W.shape[1]


def draw(n_seeds: int, n_images: int, cfg: Bootstrap) -> Resamples:
    """Draw `cfg.resamples` joint resamples of `n_seeds` seeds and `n_images` images."""
    if n_seeds < 1 or n_images < 1:
        raise ValueError(f"bootstrap needs at least one seed and one image, got {n_seeds} x {n_images}")
    rng = np.random.default_rng(cfg.seed)
    # A draw of n items with replacement is a multinomial count vector over them.
    U = rng.multinomial(n_seeds, np.full(n_seeds, 1.0 / n_seeds), size=cfg.resamples)
    W = rng.multinomial(n_images, np.full(n_images, 1.0 / n_images), size=cfg.resamples)
    # float64 for BLAS matrix products; the counts stay exact integers.
    return Resamples(U=U.astype(np.float64), W=W.astype(np.float64), level=cfg.level)


def _matrix(C: np.ndarray, rs: Resamples) -> np.ndarray:
    C = np.asarray(C, dtype=np.float64)
    if C.ndim != 2 or C.shape != rs.shape:
        raise ValueError(f"correctness matrix has shape {C.shape}, the resamples expect "
                         f"(seeds, images) = {rs.shape}")
    return C


def seed_accuracy(C: np.ndarray, rs: Resamples) -> np.ndarray:
    """(B, S): each seed's accuracy on each resample's images (seeds not yet resampled)."""
    C = _matrix(C, rs)
    return (rs.W @ C.T) / C.shape[1]


def over_seeds(per_seed: np.ndarray, rs: Resamples) -> np.ndarray:
    """(B,): the mean of a (B, S) per-seed quantity over each resample's seeds."""
    return (rs.U * per_seed).sum(axis=1) / rs.U.shape[1]


def accuracy(C: np.ndarray, rs: Resamples) -> np.ndarray:
    """(B,): accuracy of C on every resample."""
    return over_seeds(seed_accuracy(C, rs), rs)


def interval(samples: np.ndarray, level: float = 0.95) -> list[float]:
    """Percentile interval [lo, hi] holding the central `level` of `samples`."""
    lo, hi = np.quantile(np.asarray(samples, dtype=np.float64), [(1 - level) / 2, (1 + level) / 2])
    return [float(lo), float(hi)]


def _with_level(out: dict[str, object], level: float) -> dict[str, object]:
    if level != 0.95:
        out["level"] = level
    return out


def describe(C: np.ndarray, rs: Resamples) -> dict[str, object]:
    """{"mean": accuracy on the full data, "ci95": [lo, hi]} (+ "level" if not 0.95)."""
    return _with_level({"mean": float(_matrix(C, rs).mean()),
                        "ci95": interval(accuracy(C, rs), rs.level)}, rs.level)


def _metric(C: np.ndarray, rs: Resamples, offset: Sequence[float] | None) -> tuple[float, np.ndarray]:
    """(full-data value, (B,) resampled values) of accuracy, or of offset_s - accuracy_s."""
    C = _matrix(C, rs)
    acc = seed_accuracy(C, rs)
    full = C.mean(axis=1)
    if offset is not None:
        off = np.asarray(offset, dtype=np.float64)
        if off.shape != (C.shape[0],):
            raise ValueError(f"per-seed offset has shape {off.shape}, expected ({C.shape[0]},)")
        acc, full = off[None, :] - acc, off - full
    return float(full.mean()), over_seeds(acc, rs)


def p_value(d: np.ndarray) -> float:
    """Two-sided bootstrap p-value of d = 0: 2 * min(P(d <= 0), P(d >= 0)), at most 1."""
    return float(min(1.0, 2 * min(np.mean(d <= 0), np.mean(d >= 0))))


def paired(Ca: np.ndarray, Cb: np.ndarray, rs: Resamples,
           offset_a: Sequence[float] | None = None,
           offset_b: Sequence[float] | None = None) -> dict[str, object]:
    """Paired difference a - b on the same resamples.

    Each side's metric is its accuracy, or, when its per-seed `offset` is
    given, offset_s - accuracy_s averaged over seeds (e.g. the overfitting gap
    train_acc - test_acc; the offset itself is not resampled).
    Returns {"mean", "ci95", "p_value", "significant"} (+ "level"); significant
    when the interval excludes 0.
    """
    ma, da = _metric(Ca, rs, offset_a)
    mb, db = _metric(Cb, rs, offset_b)
    d = da - db
    lo, hi = interval(d, rs.level)
    return _with_level({"mean": ma - mb, "ci95": [lo, hi], "p_value": p_value(d),
                        "significant": bool(lo > 0 or hi < 0)}, rs.level)


def gap_closure(Cm: np.ndarray, Cs: np.ndarray, Co: np.ndarray, rs: Resamples,
                seeds: Sequence[int | str] | None = None) -> dict[str, object]:
    """Share of the source-only -> oracle gap a method closes: (m - s) / (o - s).

    m, s, o are the accuracies of the method, the source-only model and the
    oracle on the same resample, so the interval is paired. Returns {"mean"
    (full data), "ci95", "per_seed" {seed: ratio on the full test set, or None
    where that seed's oracle does not beat its source-only model},
    "undefined_share"} (+ "level"). `seeds` names the rows (default 0..S-1).

    Resamples where o <= s have no gap to close; they are left out and counted
    in `undefined_share`. When they exceed one tail of the interval,
    (1 - level) / 2, the ratio is unbounded at that level and ci95 is None.
    """
    m, s, o = (_matrix(C, rs) for C in (Cm, Cs, Co))
    gap = o.mean() - s.mean()
    if gap <= 0:
        raise ValueError(f"gap closure needs the oracle to beat source-only; on the full test set "
                         f"oracle - source-only = {gap:.4f} <= 0")
    am, as_, ao = accuracy(m, rs), accuracy(s, rs), accuracy(o, rs)
    den = ao - as_
    ok = den > 0
    undefined = float(1 - ok.mean())
    ci = (interval((am[ok] - as_[ok]) / den[ok], rs.level)
          if undefined <= (1 - rs.level) / 2 else None)
    ms, ss, os_ = m.mean(axis=1), s.mean(axis=1), o.mean(axis=1)
    names = [str(x) for x in (seeds if seeds is not None else range(m.shape[0]))]
    if len(names) != m.shape[0]:
        raise ValueError(f"{len(names)} seed names for {m.shape[0]} rows")
    per_seed = {n: (float((a - b) / (c - b)) if c > b else None)
                for n, a, b, c in zip(names, ms, ss, os_)}
    return _with_level({"mean": float((m.mean() - s.mean()) / gap), "ci95": ci,
                        "per_seed": per_seed, "undefined_share": undefined}, rs.level)


def regret(C_best: np.ndarray, C_chosen: np.ndarray, rs: Resamples) -> dict[str, object]:
    """Accuracy lost by deploying `chosen` instead of `best`: {"mean", "ci95"} (+ "level")."""
    d = paired(C_best, C_chosen, rs)
    return _with_level({"mean": d["mean"], "ci95": d["ci95"]}, rs.level)
