"""The study's head learns and is deterministic per seed; scores; the one checkpoint format."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synth2real.adapt.engine import fit_heads
from synth2real.config import Train
from synth2real.model import head as heads
from synth2real.model import stacked


def separable(n=300, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centers = rng.normal(0, 1, (3, 16)) * 4
    return (centers[y] + rng.normal(0, 1, (n, 16))).astype(np.float32), y


def fit(X, y, train: Train, seed: int) -> heads.Head:
    """The study's head, trained as the workflow trains it (the engine's one trainer)."""
    members = stacked.Members(np.arange(len(y)), y)
    ((net, hist),) = fit_heads(torch.from_numpy(X), 3, [members],
                               [stacked.shuffled(len(y), train.batch_size)], [seed], train)
    return net, hist


def test_head_learns_separable_toy_problem():
    X, y = separable()
    head, hist = fit(X, y, Train(epochs=10), seed=0)
    acc = heads.scores(y, heads.predict_proba(head, X), ["a", "b", "c"])["acc"]
    assert acc > 0.97
    assert hist["loss"][-1] < hist["loss"][0] / 3
    assert hist["lr"] == [1e-3] * 7 + [1e-4] * 3


def test_training_is_deterministic_per_seed():
    X, y = separable(100)
    a, b, c = (fit(X, y, Train(epochs=2), seed=s)[0] for s in (5, 5, 6))
    assert np.array_equal(heads.predict_proba(a, X), heads.predict_proba(b, X))
    assert not np.array_equal(heads.predict_proba(a, X), heads.predict_proba(c, X))


def test_scores_confusion_rows_are_true_classes():
    y = np.array([0, 0, 1, 1])
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]])
    s = heads.scores(y, probs, ["a", "b"])
    assert s["confusion"] == [[1, 1], [1, 1]] and s["acc"] == 0.5
    assert s["per_class_acc"] == {"a": 0.5, "b": 0.5}


@pytest.mark.parametrize("make", [
    lambda: heads.Head(3, 0.2, in_dim=16),
    lambda: heads.DannNet(3, in_dim=16, bottleneck=8, hidden=4, dropout=0.2),
    lambda: shifted(heads.Ensemble.of([heads.Head(3, 0.2, in_dim=16),
                                       heads.BottleneckNet(3, 16, 8, 0.2)])),
])
def test_every_model_round_trips_through_the_one_checkpoint_format(tmp_path, make):
    X, _ = separable(20)
    model = make()
    heads.save(model, tmp_path / "m.pt", ["a", "b", "c"])
    back, classes = heads.load(tmp_path / "m.pt")
    assert type(back) is type(model) and classes == ["a", "b", "c"]
    p = heads.predict_proba(back, X)
    assert np.array_equal(p, heads.predict_proba(model, X))
    assert np.allclose(p.sum(1), 1.0)


def test_loading_a_foreign_file_says_what_to_do(tmp_path):
    import torch

    torch.save({"state_dict": {}}, tmp_path / "old.pt")
    with pytest.raises(ValueError, match="retrain"):
        heads.load(tmp_path / "old.pt")


def shifted(model):
    heads.shift_logits(model, np.array([0.5, -0.25, 0.0]))
    return model


def test_an_ensemble_averages_its_members_softmax_and_carries_its_shift():
    X, _ = separable(20)
    torch.manual_seed(0)
    members = [heads.Head(3, 0.2, in_dim=16).eval(), heads.BottleneckNet(3, 16, 8, 0.2).eval()]
    ens = heads.Ensemble.of(members)
    mean = np.mean([heads.predict_proba(m, X) for m in members], 0)
    np.testing.assert_allclose(heads.predict_proba(ens, X), mean, rtol=1e-5)
    delta = np.array([1.0, 0.0, -1.0], np.float32)
    heads.shift_logits(ens, delta)
    expected = mean * np.exp(delta)
    np.testing.assert_allclose(heads.predict_proba(ens, X),
                               expected / expected.sum(1, keepdims=True), rtol=1e-5)
    # The members are copies: the ensemble's shift moved no member's bias.
    assert np.allclose(heads.predict_proba(members[0], X), heads.predict_proba(ens.members[0], X))
