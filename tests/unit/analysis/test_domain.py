"""Proxy A-distance: near 0 for one domain, 2 for separable ones."""

from __future__ import annotations

import numpy as np
import pytest

from synth2real.analysis import domain


def test_proxy_a_distance_near_zero_for_one_domain_and_two_for_separable():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, (400, 8)), rng.normal(0, 1, (400, 8))
    assert domain.proxy_a_distance(a, b, 400) < 0.4
    assert domain.proxy_a_distance(a, b + 10, 400) == pytest.approx(2.0)


def _frechet_sqrtm(a: np.ndarray, b: np.ndarray) -> float:
    """The FID formula written directly, with scipy's general matrix square root."""
    from scipy.linalg import sqrtm

    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    cross = sqrtm(ca @ cb).real
    return float(np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(ca + cb - 2 * cross))


def test_frechet_distance_matches_the_formula_with_a_general_matrix_square_root():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(300, 12)) @ rng.normal(size=(12, 12))
    b = rng.normal(1.0, 2.0, size=(200, 12)) @ rng.normal(size=(12, 12))
    assert domain.frechet_distance(a, b) == pytest.approx(_frechet_sqrtm(a, b), rel=1e-8)


def test_frechet_distance_is_zero_for_one_set_and_symmetric():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(50, 6)), rng.normal(0.5, 1.5, size=(80, 6))
    assert domain.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    assert domain.frechet_distance(a, b) == pytest.approx(domain.frechet_distance(b, a), rel=1e-10)


def test_frechet_distance_of_a_shift_is_its_squared_length():
    """Same covariance, means apart by `shift`: the trace terms cancel, leaving ||shift||^2."""
    rng = np.random.default_rng(2)
    a = rng.normal(size=(100, 5))
    shift = np.array([1.0, -2.0, 0.5, 0.0, 3.0])
    assert domain.frechet_distance(a, a + shift) == pytest.approx(shift @ shift, rel=1e-9)


def test_frechet_distance_of_diagonal_gaussians_has_its_closed_form():
    """Diagonal covariances: sum (mu_a - mu_b)^2 + sum (s_a - s_b)^2 over the standard
    deviations; exact here for the sample moments of two sets built to have them."""
    rng = np.random.default_rng(3)
    z = rng.normal(size=(400, 4))
    z = (z - z.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T  # whitened
    mu_a, mu_b = np.array([0.0, 1.0, 2.0, -1.0]), np.array([1.0, 1.0, 0.0, 0.0])
    s_a, s_b = np.array([1.0, 2.0, 0.5, 3.0]), np.array([2.0, 2.0, 1.5, 0.1])
    expected = np.sum((mu_a - mu_b) ** 2) + np.sum((s_a - s_b) ** 2)
    assert domain.frechet_distance(mu_a + z * s_a, mu_b + z * s_b) == pytest.approx(expected,
                                                                                 rel=1e-9)


def test_frechet_distance_is_exact_with_fewer_rows_than_dimensions():
    """N < D (rank-deficient covariances, as 1280-D features of a few hundred images): still
    zero for one set, and the shift's squared length for a shifted copy."""
    rng = np.random.default_rng(4)
    a = rng.normal(size=(20, 64))
    shift = rng.normal(size=64)
    assert domain.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    assert domain.frechet_distance(a, a + shift) == pytest.approx(shift @ shift, rel=1e-8)
