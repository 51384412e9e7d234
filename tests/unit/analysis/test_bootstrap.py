"""Joint seed x image bootstrap: resample weights, intervals, paired differences, gap closure, regret."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as st

from synth2real.analysis import bootstrap as bs
from synth2real.config.evaluation import Bootstrap

CFG = Bootstrap(resamples=1000, seed=3)


def matrix(rng: np.random.Generator, accs: list[float], n: int) -> np.ndarray:
    """(len(accs), n) 0/1 matrix whose row s has exactly round(accs[s] * n) ones, at random places."""
    C = np.zeros((len(accs), n), dtype=bool)
    for s, a in enumerate(accs):
        C[s, rng.permutation(n)[: round(a * n)]] = True
    return C


def test_draw_weights_are_multiplicities_of_a_full_draw():
    rs = bs.draw(5, 300, CFG)
    assert rs.U.shape == (1000, 5) and rs.W.shape == (1000, 300) and rs.shape == (5, 300)
    assert np.all(rs.U.sum(axis=1) == 5) and np.all(rs.W.sum(axis=1) == 300)
    assert np.all(rs.U == np.round(rs.U)) and rs.U.min() >= 0
    # With replacement: some draws repeat a seed; on average each is drawn once.
    assert rs.U.max() > 1 and rs.U.mean() == pytest.approx(1.0)


def test_draw_is_reproducible_from_its_seed():
    a, b = bs.draw(3, 50, CFG), bs.draw(3, 50, CFG)
    c = bs.draw(3, 50, Bootstrap(resamples=1000, seed=4))
    assert np.array_equal(a.W, b.W) and np.array_equal(a.U, b.U)
    assert not np.array_equal(a.W, c.W)


def test_vectorised_accuracy_equals_a_slow_loop_over_explicit_draws():
    rng = np.random.default_rng(0)
    C = rng.random((4, 30)) < 0.6
    rs = bs.draw(4, 30, Bootstrap(resamples=100, seed=1))
    slow = []
    for u, w in zip(rs.U, rs.W):
        seeds = np.repeat(np.arange(4), u.astype(int))
        images = np.repeat(np.arange(30), w.astype(int))
        slow.append(C[np.ix_(seeds, images)].mean())
    assert bs.accuracy(C, rs) == pytest.approx(np.array(slow), abs=1e-12)


def test_constant_matrix_has_a_point_interval():
    rs = bs.draw(5, 200, CFG)
    for value in (0, 1):
        d = bs.describe(np.full((5, 200), value), rs)
        assert d == {"mean": value, "ci95": [value, value]}


def test_interval_narrows_with_more_images():
    rng = np.random.default_rng(1)
    widths = []
    for n in (200, 3200):
        d = bs.describe(matrix(rng, [0.62] * 5, n), bs.draw(5, n, CFG))
        widths.append(d["ci95"][1] - d["ci95"][0])
        assert d["ci95"][0] < d["mean"] < d["ci95"][1]
    assert widths[1] < widths[0] / 2  # 16x the images: about a quarter of the width


def test_identical_seeds_give_the_binomial_standard_error():
    # All seeds agree, so only the image resampling moves the accuracy.
    rng = np.random.default_rng(2)
    n, p = 3000, 0.62
    C = np.repeat(matrix(rng, [p], n), 5, axis=0)
    rs = bs.draw(5, n, Bootstrap(resamples=4000, seed=0))
    se = math.sqrt(p * (1 - p) / n)
    assert bs.accuracy(C, rs).std() == pytest.approx(se, rel=0.08)
    lo, hi = bs.describe(C, rs)["ci95"]
    assert (hi - lo) / 2 == pytest.approx(st.norm.ppf(0.975) * se, rel=0.1)


def test_seed_spread_widens_the_interval():
    rng = np.random.default_rng(3)
    same = np.repeat(matrix(rng, [0.62], 1000), 5, axis=0)
    spread = matrix(rng, [0.52, 0.57, 0.62, 0.67, 0.72], 1000)
    rs = bs.draw(5, 1000, CFG)
    w = [np.diff(bs.describe(C, rs)["ci95"])[0] for C in (same, spread)]
    assert w[1] > 2 * w[0]


def test_paired_difference_of_identical_matrices_is_exactly_zero():
    rng = np.random.default_rng(4)
    C = matrix(rng, [0.6, 0.65, 0.7], 400)
    d = bs.paired(C, C.copy(), bs.draw(3, 400, CFG))
    assert d == {"mean": 0.0, "ci95": [0.0, 0.0], "p_value": 1.0, "significant": False}


def test_paired_difference_detects_a_shift_that_unpaired_intervals_miss():
    # b is a with 2% of images flipped to wrong: the unpaired intervals overlap, the pairing sees it.
    rng = np.random.default_rng(5)
    a = matrix(rng, [0.55, 0.6, 0.65, 0.7, 0.75], 1000)
    b = a.copy()
    b[:, :] &= rng.random(b.shape) > 0.03
    rs = bs.draw(5, 1000, CFG)
    da, db = bs.describe(a, rs), bs.describe(b, rs)
    assert da["ci95"][0] < db["ci95"][1]
    d = bs.paired(a, b, rs)
    assert d["mean"] == pytest.approx(a.mean() - b.mean())
    assert d["ci95"][0] > 0 and d["significant"] is True and d["p_value"] < 0.01
    r = bs.paired(b, a, rs)
    assert r["ci95"] == pytest.approx([-d["ci95"][1], -d["ci95"][0]]) and r["p_value"] == d["p_value"]


def test_paired_with_offsets_compares_offset_minus_accuracy():
    rng = np.random.default_rng(6)
    a, b = matrix(rng, [0.9, 0.92], 500), matrix(rng, [0.8, 0.82], 500)
    rs = bs.draw(2, 500, CFG)
    train_a, train_b = [0.99, 0.98], [0.99, 0.99]
    # gap(b) - gap(a) = (train_b - test_b) - (train_a - test_a)
    d = bs.paired(b, a, rs, offset_a=train_b, offset_b=train_a)
    want = np.mean(np.subtract(train_b, b.mean(axis=1))) - np.mean(np.subtract(train_a, a.mean(axis=1)))
    assert d["mean"] == pytest.approx(want)
    assert d["ci95"][0] > 0
    with pytest.raises(ValueError, match="offset"):
        bs.paired(a, b, rs, offset_a=[0.9])


def test_shape_mismatch_is_refused():
    rs = bs.draw(3, 100, Bootstrap(resamples=100))
    with pytest.raises(ValueError, match=r"\(3, 100\)"):
        bs.describe(np.ones((3, 99)), rs)


def test_other_levels_are_named_and_narrower():
    rng = np.random.default_rng(7)
    C = matrix(rng, [0.6] * 3, 500)
    d90 = bs.describe(C, bs.draw(3, 500, Bootstrap(resamples=1000, level=0.9)))
    d95 = bs.describe(C, bs.draw(3, 500, Bootstrap(resamples=1000)))
    assert d90["level"] == 0.9 and "level" not in d95
    assert np.diff(d90["ci95"])[0] < np.diff(d95["ci95"])[0]


def test_gap_closure_of_the_oracle_is_one_and_of_source_only_zero():
    rng = np.random.default_rng(8)
    s, o = matrix(rng, [0.6, 0.62, 0.61], 600), matrix(rng, [0.85, 0.86, 0.84], 600)
    rs = bs.draw(3, 600, CFG)
    one = bs.gap_closure(o, s, o, rs, seeds=[0, 1, 2])
    zero = bs.gap_closure(s, s, o, rs)
    assert one["mean"] == pytest.approx(1) and one["ci95"] == pytest.approx([1, 1])
    assert one["per_seed"] == pytest.approx({"0": 1, "1": 1, "2": 1}) and one["undefined_share"] == 0
    assert zero["mean"] == 0 and zero["ci95"] == [0, 0]


def test_gap_closure_of_a_halfway_method_is_about_a_half_with_an_interval():
    rng = np.random.default_rng(9)
    s = matrix(rng, [0.6] * 4, 2000)
    o = s | (rng.random(s.shape) < 0.5)          # about +0.2 over source-only
    m = s | (o & (rng.random(s.shape) < 0.5))    # half of the oracle's extra images
    g = bs.gap_closure(m, s, o, bs.draw(4, 2000, CFG))
    want = (m.mean() - s.mean()) / (o.mean() - s.mean())
    assert g["mean"] == pytest.approx(want) and 0.4 < want < 0.6
    assert g["ci95"][0] < want < g["ci95"][1]
    per_seed = (m.mean(1) - s.mean(1)) / (o.mean(1) - s.mean(1))
    assert list(g["per_seed"].values()) == pytest.approx(list(per_seed))


def test_gap_closure_without_a_gap_is_an_error_naming_it():
    rng = np.random.default_rng(10)
    s = matrix(rng, [0.7, 0.7], 300)
    with pytest.raises(ValueError, match="oracle - source-only"):
        bs.gap_closure(s, s, matrix(rng, [0.6, 0.6], 300), bs.draw(2, 300, CFG))


def test_gap_closure_with_a_tiny_gap_has_no_bounded_interval():
    # The oracle beats source-only on one image only: many resamples miss it.
    s = np.zeros((1, 200), dtype=bool)
    s[0, :100] = True
    o = s.copy()
    o[0, 150] = True
    g = bs.gap_closure(s, s, o, bs.draw(1, 200, CFG))
    assert g["undefined_share"] > 0.25 and g["ci95"] is None and g["mean"] == 0


def test_regret_is_zero_when_the_chosen_variant_is_the_best():
    rng = np.random.default_rng(11)
    best, other = matrix(rng, [0.8, 0.82], 400), matrix(rng, [0.7, 0.72], 400)
    rs = bs.draw(2, 400, CFG)
    assert bs.regret(best, best, rs) == {"mean": 0.0, "ci95": [0.0, 0.0]}
    r = bs.regret(best, other, rs)
    assert r["mean"] == pytest.approx(best.mean() - other.mean()) and r["ci95"][0] > 0
