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
