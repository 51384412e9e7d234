"""Label-free model-selection scores: each rewards what it claims to and nothing else."""

import numpy as np
import pytest

from synth2real.model import criteria


def onehot(labels, n=3, conf=0.98):
    p = np.full((len(labels), n), (1 - conf) / (n - 1))
    p[np.arange(len(labels)), labels] = conf
    return p


def test_entropy_is_zero_for_certain_and_log_c_for_uniform():
    assert criteria.mean_entropy(np.eye(3)) == pytest.approx(0, abs=1e-9)
    assert criteria.mean_entropy(np.full((4, 3), 1 / 3)) == pytest.approx(np.log(3))


def test_information_maximisation_prefers_confident_and_diverse():
    diverse = onehot([0, 1, 2] * 10)
    collapsed = onehot([0] * 30)  # as confident, but every image in one class
    unsure = np.full((30, 3), 1 / 3)
    im = criteria.information_maximisation
    assert im(diverse) > im(collapsed) and im(diverse) > im(unsure)
    # Entropy alone cannot tell the collapsed model from the diverse one; IM can.
    assert criteria.mean_entropy(diverse) == pytest.approx(criteria.mean_entropy(collapsed))


def test_snd_higher_for_clustered_predictions_than_scattered():
    rng = np.random.default_rng(0)
    clustered = onehot(rng.integers(0, 3, 60), conf=0.95)
    scattered = rng.dirichlet(np.ones(3), 60)
    assert criteria.soft_neighbourhood_density(clustered) > criteria.soft_neighbourhood_density(scattered)


def test_snd_ignores_each_image_itself_and_is_order_free():
    p = onehot([0, 1, 2, 0, 1, 2], conf=0.9)
    perm = np.random.default_rng(1).permutation(len(p))
    snd = criteria.soft_neighbourhood_density
    assert snd(p) == pytest.approx(snd(p[perm]))
    # Two identical predictions per class: each image's only close neighbour is its twin,
    # so the similarity distribution is nearly one-hot (low entropy), not spread over itself.
    assert snd(p) < np.log(len(p) - 1)


def test_pool_scores_names_match_the_config_criteria():
    from synth2real.config import CRITERIA

    scores = criteria.pool_scores(onehot([0, 1, 2]))
    # Besides these, MixVal (it runs the model on mixed inputs, at training time) and EnsV
    # (it compares the candidates, in the summary) read the pool alone.
    assert set(scores) | {"mixval", "ensv"} == {
        c for c, (_, reads, _) in CRITERIA.items() if reads == "unlabeled pool"}


def test_ensv_scores_agreement_with_the_candidates_average():
    # Three candidates on 4 pool images; their average predicts [0, 1, 2, 0].
    a = onehot([0, 1, 2, 0])  # agrees everywhere
    b = onehot([0, 1, 1, 0])  # disagrees on image 2
    c = onehot([1, 2, 2, 1], conf=0.4)  # unsure, outvoted on 0, 1, 3
    scores = criteria.ensv({"a": a, "b": b, "c": c})
    np.testing.assert_allclose(np.mean([a, b, c], 0).argmax(1), [0, 1, 2, 0])
    assert scores == {"a": 1.0, "b": 0.75, "c": 0.25}
    # A model outside the candidate set is scored against the candidates' average only.
    outside = criteria.ensv({"a": a, "b": b, "x": onehot([2, 2, 2, 2])}, members=["a", "b"])
    assert outside["x"] == pytest.approx(np.mean(np.mean([a, b], 0).argmax(1) == 2))


def test_mixval_rewards_a_model_consistent_on_mixed_inputs():
    rng = np.random.default_rng(0)
    centers = np.eye(3) * 4
    y = rng.integers(0, 3, 300)
    X = centers[y] + rng.normal(0, 0.05, (300, 3))

    def linear(x):  # nearest center: consistent under mixing (the 0.55 side wins)
        return onehot(np.argmax(x, 1))

    def threshold(x):  # the same labels on the pool, but only far from the others
        out = linear(x)
        out[np.max(x, 1) < 3.5] = onehot(np.zeros((np.max(x, 1) < 3.5).sum(), int))
        return out

    assert (linear(X).argmax(1) == threshold(X).argmax(1)).all()
    assert criteria.mixval(linear, X, 0) == pytest.approx(1.0)
    assert criteria.mixval(threshold, X, 0) < 0.8
    # The pairs come from the seed: the same for every candidate scored with it.
    assert criteria.mixval(threshold, X, 0) == criteria.mixval(threshold, X, 0)


def test_mixval_averages_intra_and_inter_class_pairs():
    X = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])

    def by_first(x):  # class 0 where the first coordinate dominates, as skada's scorer counts
        return onehot((x[:, 1] > x[:, 0]).astype(int), n=2)

    perm = np.random.default_rng(3).permutation(4)
    labels = by_first(X).argmax(1)
    same = labels == labels[perm]
    mixed = 0.55 * X + 0.45 * X[perm]
    hit = by_first(mixed).argmax(1) == labels
    expected = np.mean([hit[m].mean() for m in (same, ~same) if m.any()])
    assert criteria.mixval(by_first, X, 3) == pytest.approx(expected)


def test_dev_with_equal_weights_is_the_mean_loss_and_weighs_target_like_rows():
    loss = np.array([0.1, 0.2, 0.3, 2.0])
    assert criteria.dev(loss, np.ones(4)) == pytest.approx(loss.mean())
    # All weight on the row with the large loss: DEV is about that loss; the control variate
    # (eta) removes the part of the weighted mean explained by the weights' own noise.
    w = np.array([0.1, 0.1, 0.1, 3.7])
    weighted = w * loss
    eta = -np.cov(weighted, w)[0, 1] / np.var(w, ddof=1)
    assert criteria.dev(loss, w) == pytest.approx(weighted.mean() + eta * w.mean() - eta)
    assert criteria.dev(loss, w) > criteria.dev(loss, np.ones(4))
