"""Pseudo-label selection and diagnostics; the head trainer learns and follows StepLR."""

from __future__ import annotations

import numpy as np
import pytest

from synth2real.adapt import pseudo
from synth2real.config import Train
from synth2real.model import head as heads


def test_select_is_strictly_above_threshold():
    probs = np.array([[0.51, 0.49], [0.52, 0.48], [0.3, 0.7], [0.5, 0.5]])
    idx, labels = pseudo.select(probs, 0.51)
    assert idx.tolist() == [1, 2] and labels.tolist() == [0, 1]


@pytest.mark.parametrize("t", [0.0, 1.0, -0.1, 1.5])
def test_select_rejects_thresholds_outside_unit_interval(t):
    with pytest.raises(ValueError, match="threshold"):
        pseudo.select(np.ones((2, 2)) / 2, t)


def test_diagnostics_count_ood_as_wrong():
    classes = ["dog", "cat"]
    true = ["dog", "cat", "car", "dog", "ship"]
    in_domain = [1, 1, 0, 1, 0]
    idx = np.array([0, 1, 2])
    labels = np.array([0, 0, 1])  # dog ok, cat->dog wrong, car->cat (ood) wrong
    d = pseudo.diagnostics(idx, labels, true, in_domain, classes)
    assert d["accepted"] == 3 and d["accepted_per_class"] == {"dog": 2, "cat": 1}
    assert d["pseudo_label_acc"] == pytest.approx(1 / 3)
    assert d["ood_in_pool"] == 2 and d["ood_accepted"] == 1 and d["ood_accepted_share"] == 0.5


def separable(n=300, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centers = rng.normal(0, 1, (3, 16)) * 4
    return (centers[y] + rng.normal(0, 1, (n, 16))).astype(np.float32), y


def test_head_learns_separable_toy_problem():
    X, y = separable()
    head, hist = heads.train_head(X, y, 3, Train(epochs=10), seed=0)
    acc = heads.scores(y, heads.predict_proba(head, X), ["a", "b", "c"])["acc"]
    assert acc > 0.97
    assert hist.loss[-1] < hist.loss[0] / 3


def test_steplr_schedule_is_the_configured_one():
    X, y = separable(64)
    _, hist = heads.train_head(X, y, 3, Train(epochs=16, lr=1e-3, step_size=7, gamma=0.1), seed=0)
    expected = [1e-3] * 7 + [1e-4] * 7 + [1e-5] * 2
    assert hist.lr == pytest.approx(expected)


def test_training_is_deterministic_per_seed():
    X, y = separable(100)
    a, _ = heads.train_head(X, y, 3, Train(epochs=2), seed=5)
    b, _ = heads.train_head(X, y, 3, Train(epochs=2), seed=5)
    c, _ = heads.train_head(X, y, 3, Train(epochs=2), seed=6)
    assert np.array_equal(heads.predict_proba(a, X), heads.predict_proba(b, X))
    assert not np.array_equal(heads.predict_proba(a, X), heads.predict_proba(c, X))


def test_scores_confusion_rows_are_true_classes():
    y = np.array([0, 0, 1, 1])
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]])
    s = heads.scores(y, probs, ["a", "b"])
    assert s["confusion"] == [[1, 1], [1, 1]] and s["acc"] == 0.5
    assert s["per_class_acc"] == {"a": 0.5, "b": 0.5}
