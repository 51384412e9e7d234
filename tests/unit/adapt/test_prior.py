"""Label-shift correction: EM and BBSE recover a known prior; the logit shift is its log ratio."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synth2real.adapt import prior
from synth2real.model import head

MEANS, STDS = np.array([0.0, 1.5, 4.0]), np.array([1.0, 1.0, 2.0])


def calibrated(n: int, target: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from `target` and the exact posteriors of a balanced-source model on
    1-D Gaussian classes p(x|y) = N(MEANS[y], STDS[y]^2): unequal spreads, so the confusion
    between two classes is not symmetric."""
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=n, p=target)
    x = rng.normal(MEANS[y], STDS[y])
    lik = np.exp(-0.5 * ((x[:, None] - MEANS) / STDS) ** 2) / STDS
    return lik / lik.sum(1, keepdims=True), y


def test_em_recovers_a_synthetic_label_shift():
    target = np.array([0.6, 0.3, 0.1])
    probs, _ = calibrated(20000, target)
    naive = probs.mean(0)  # the uncorrected estimate is pulled towards uniform
    estimated, rounds = prior.em(probs, np.full(3, 1 / 3))
    assert np.abs(estimated - target).max() < 0.02 < np.abs(naive - target).max()
    assert 1 < rounds < 1000


def test_em_keeps_the_source_prior_when_nothing_shifted():
    probs, _ = calibrated(20000, np.full(3, 1 / 3))
    estimated, _ = prior.em(probs, np.full(3, 1 / 3))
    assert np.abs(estimated - 1 / 3).max() < 0.02


def test_bbse_recovers_a_synthetic_label_shift():
    source_probs, source_y = calibrated(20000, np.full(3, 1 / 3), seed=1)
    target = np.array([0.2, 0.2, 0.6])
    pool_probs, _ = calibrated(20000, target, seed=2)
    estimated = prior.bbse(source_probs, source_y, pool_probs, np.full(3, 1 / 3))
    assert np.abs(estimated - target).max() < 0.03 and estimated.sum() == pytest.approx(1)


def test_the_correction_is_the_bayes_rule_folded_into_the_bias():
    torch.manual_seed(0)
    net = head.Head(3, 0.0, 4).eval()
    x = np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32)
    before = head.predict_proba(net, x)
    source, target = np.array([0.5, 0.25, 0.25]), np.array([0.2, 0.2, 0.6])
    head.shift_logits(net, prior.log_ratio(target, source))
    expected = before * target / source
    np.testing.assert_allclose(head.predict_proba(net, x),
                               expected / expected.sum(1, keepdims=True), rtol=1e-5)


def test_density_ratio_is_higher_where_the_pool_is():
    from synth2real.analysis.domain import density_ratio

    rng = np.random.default_rng(0)
    source, pool = rng.normal(0, 1, (500, 2)), rng.normal([2, 0], 1, (500, 2))
    val = np.array([[-2.0, 0.0], [0.0, 0.0], [2.0, 0.0], [4.0, 0.0]])
    w = density_ratio(val, source, pool, seed=0)
    # Two unit Gaussians, means 0 and 2 on the first axis: the true ratio is exp(2x - 2).
    assert (np.diff(w) > 0).all()
    np.testing.assert_allclose(np.log(w), 2 * val[:, 0] - 2, atol=0.5)
