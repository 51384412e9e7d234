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
    assert set(scores) == {c for c, (_, reads, _) in CRITERIA.items() if reads == "unlabeled pool"}
