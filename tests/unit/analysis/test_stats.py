"""Seed statistics: t intervals against scipy, paired differences, summary comparisons."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as st

from synth2real.analysis import stats


def test_ci95_matches_scipy_t_interval():
    v = [0.62, 0.615, 0.63, 0.61, 0.625]
    lo, hi = stats.ci95(v)
    ref = st.t.interval(0.95, len(v) - 1, loc=np.mean(v), scale=st.sem(v))
    assert (lo, hi) == pytest.approx(ref, abs=1e-12)


def test_ci95_known_case_by_hand():
    # mean 2, sd 1, n 3: half-width = t_{0.975, 2} * 1 / sqrt(3) = 4.302653 / 1.7320508
    lo, hi = stats.ci95([1.0, 2.0, 3.0])
    assert hi - 2.0 == pytest.approx(4.302652729911275 / math.sqrt(3), rel=1e-9)
    assert lo == pytest.approx(4.0 - hi)


def test_describe_one_seed_has_no_interval():
    d = stats.describe({0: 0.5})
    assert d["std"] == 0.0 and d["ci95"] is None and d["per_seed"] == {"0": 0.5}


def test_paired_difference_uses_same_seed_pairs():
    a = {"0": 0.70, "1": 0.60, "2": 0.80, "3": 0.65}
    b = {"0": 0.68, "1": 0.57, "2": 0.79, "3": 0.62, "9": 0.1}  # seed 9 has no partner
    d = stats.paired(a, b)
    diffs = [0.02, 0.03, 0.01, 0.03]
    assert d["n"] == 4 and d["mean"] == pytest.approx(np.mean(diffs))
    ref = st.t.interval(0.95, 3, loc=np.mean(diffs), scale=st.sem(diffs))
    assert d["ci95"] == pytest.approx(list(ref))
    assert d["significant"] is True
    assert d["p_value"] == pytest.approx(st.ttest_rel([a[s] for s in "0123"], [b[s] for s in "0123"]).pvalue)


def test_paired_difference_is_far_tighter_than_unpaired_spread():
    # Seeds shift both variants alike: the unpaired intervals overlap, the paired one excludes 0.
    a = {"0": 0.60, "1": 0.70, "2": 0.65, "3": 0.75, "4": 0.55}
    b = {k: v - 0.01 for k, v in a.items()}
    b["2"] -= 0.002
    lo_a, _ = stats.ci95(list(a.values()))
    _, hi_b = stats.ci95(list(b.values()))
    assert lo_a < hi_b
    assert stats.paired(a, b)["significant"] is True


def test_paired_difference_straddling_zero_is_not_significant():
    d = stats.paired({"0": 0.5, "1": 0.6, "2": 0.55}, {"0": 0.52, "1": 0.58, "2": 0.55})
    assert d["ci95"][0] < 0 < d["ci95"][1] and d["significant"] is False


def test_paired_without_common_seeds_fails():
    with pytest.raises(ValueError, match="at least one seed"):
        stats.paired({"0": 0.5}, {"1": 0.5})
