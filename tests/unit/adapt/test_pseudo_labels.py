"""Pseudo-label selection: threshold, class balance, out-of-domain rejection, diagnostics."""

from __future__ import annotations

import numpy as np
import pytest

from synth2real.adapt import pseudo_labels as selection


def probs_of(labels, conf, k=3):
    p = np.full((len(labels), k), 0.0)
    for i, (c, q) in enumerate(zip(labels, conf)):
        p[i] = (1 - q) / (k - 1)
        p[i, c] = q
    return p


def test_select_is_strictly_above_threshold():
    probs = np.array([[0.51, 0.49], [0.52, 0.48], [0.3, 0.7], [0.5, 0.5]])
    idx, labels = selection.threshold(probs, 0.51)
    assert idx.tolist() == [1, 2] and labels.tolist() == [0, 1]


@pytest.mark.parametrize("t", [0.0, 1.0, -0.1, 1.5])
def test_select_rejects_thresholds_outside_unit_interval(t):
    with pytest.raises(ValueError, match="threshold"):
        selection.threshold(np.ones((2, 2)) / 2, t)


def test_diagnostics_count_ood_as_wrong():
    classes = ["dog", "cat"]
    true = ["dog", "cat", "car", "dog", "ship"]
    in_domain = [1, 1, 0, 1, 0]
    idx = np.array([0, 1, 2])
    labels = np.array([0, 0, 1])  # dog ok, cat->dog wrong, car->cat (ood) wrong
    d = selection.diagnostics(idx, labels, true, in_domain, classes)
    assert d["accepted"] == 3 and d["accepted_per_class"] == {"dog": 2, "cat": 1}
    assert d["pseudo_label_acc"] == pytest.approx(1 / 3)
    assert d["ood_in_pool"] == 2 and d["ood_accepted"] == 1 and d["ood_accepted_share"] == 0.5


def test_balanced_selection_respects_quota_and_keeps_most_confident():
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(60, int), np.ones(30, int), np.full(10, 2)]  # class 0 floods the pool
    conf = rng.uniform(0.4, 1.0, 100)
    p = probs_of(labels, conf)
    idx, lab = selection.balanced(p, share=0.6)  # quota = int(0.6 * 100 / 3) = 20
    counts = np.bincount(lab, minlength=3)
    assert counts.tolist() == [20, 20, 10]  # class 2 has only 10 predictions: keeps them all
    for k in (0, 1):
        chosen = conf[idx[lab == k]]
        rest = np.setdiff1d(np.flatnonzero(labels == k), idx)
        assert chosen.min() >= conf[rest].max()
    assert np.all(np.diff(idx) > 0)


def test_balanced_selection_applies_threshold_and_candidates():
    p = probs_of([0, 0, 1, 1, 2, 2], [0.9, 0.5, 0.95, 0.8, 0.6, 0.99])
    # 5 candidates, 3 classes: quota int(5/3) = 1 per class; image 5 is no candidate,
    # 1 and 4 are below the threshold, 3 is over class 1's quota.
    idx, lab = selection.balanced(p, share=1.0, threshold=0.7, candidates=np.array([0, 1, 2, 3, 4]))
    assert idx.tolist() == [0, 2] and lab.tolist() == [0, 1]


def test_energy_and_entropy_rank_flat_logits_as_out_of_domain():
    logits = np.array([[8.0, 0.0, 0.0], [0.1, 0.0, 0.05], [5.0, 4.0, 0.0]])
    for score in ("energy", "entropy"):
        s = selection.ood_score(logits, score)
        assert s.argmax() == 1 and s.argmin() == 0
    kept = selection.in_domain(logits, "energy", reject_share=1 / 3)
    assert kept.tolist() == [0, 2]


def test_threshold_selection_restricted_to_candidates():
    p = probs_of([0, 1, 2], [0.9, 0.9, 0.9])
    idx, lab = selection.threshold(p, 0.51, candidates=np.array([0, 2]))
    assert idx.tolist() == [0, 2] and lab.tolist() == [0, 2]
