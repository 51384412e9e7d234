"""SHOT's full recipe: centroid pseudo-labels with known answers, a frozen source classifier,
and stage 2 reading the pool alone."""

from __future__ import annotations

import numpy as np
import torch

from synth2real.adapt import shot
from synth2real.config import Shot, Train
from synth2real.model import stacked


def clusters(n: int = 60, seed: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    """Three well separated clusters in 5-D (directions, as cosine distance sees them)."""
    rng = np.random.default_rng(seed)
    centers = np.eye(5)[:3] * 10
    y = np.repeat(np.arange(3), n // 3)
    return torch.tensor(centers[y] + rng.normal(0, 0.5, (n, 5)), dtype=torch.float64), y


def test_centroid_labels_recover_separable_clusters_from_poor_predictions():
    z, y = clusters()
    # Predictions right on only 60% of each cluster (the rest uniform-ish): the centroids,
    # weighted by them, still point at the clusters, and nearest-centroid labels fix them all.
    p = np.full((len(y), 3), 0.3)
    right = np.random.default_rng(1).random(len(y)) < 0.6
    p[np.arange(len(y)), y] = np.where(right, 0.5, 0.2)
    p[np.arange(len(y)), (y + 1) % 3] = np.where(right, 0.2, 0.5)
    probs = torch.tensor(p / p.sum(1, keepdims=True))
    assert (probs.argmax(1).numpy() == y).mean() < 0.7
    assert (shot.centroid_labels(z, probs, 2).numpy() == y).all()


def test_centroid_labels_refine_with_hard_centroids():
    # Points on a circle in groups, each group with its own (poor) two-class prediction: the
    # soft centroids sit where the predictions put them, the hard-label round moves them.
    angles = np.repeat([1.62, 1.33, 2.79, 0.12, 2.2, 1.84], [4, 1, 7, 6, 3, 1])
    p0 = np.repeat([0.73, 0.51, 0.89, 0.11, 0.81, 0.11], [4, 1, 7, 6, 3, 1])
    z = torch.tensor(np.c_[np.cos(angles), np.sin(angles)] * 5)
    probs = torch.tensor(np.c_[p0, 1 - p0])
    one, two = shot.centroid_labels(z, probs, 1), shot.centroid_labels(z, probs, 2)
    assert one.tolist() != two.tolist()
    # The hand computation of SHOT's obtain_label (bias column, L2 norm, cosine distance).
    f = torch.cat([z, torch.ones(len(z), 1, dtype=z.dtype)], 1)
    f = f / f.norm(dim=1, keepdim=True)
    c = probs.T @ f / probs.sum(0)[:, None]
    first = (f @ (c / c.norm(dim=1, keepdim=True)).T).argmax(1)
    assert one.tolist() == first.tolist()
    hard = torch.nn.functional.one_hot(first, 2).double()
    c2 = hard.T @ f / hard.sum(0)[:, None]
    assert two.tolist() == (f @ (c2 / c2.norm(dim=1, keepdim=True)).T).argmax(1).tolist()


def test_an_empty_class_gets_no_centroid():
    z, y = clusters(30)
    probs = torch.nn.functional.one_hot(torch.tensor(y % 2), 3).double()  # class 2 never predicted
    assert set(shot.centroid_labels(z, probs, 2).tolist()) <= {0, 1}


def test_stage_two_freezes_the_classifier_and_moves_the_bottleneck():
    torch.manual_seed(0)
    z, y = clusters(60)
    table = torch.cat([z, z + 2.0]).float()  # source rows, then the shifted "pool"
    cfg, train = Shot(bottleneck=8), Train(epochs=3, batch_size=16, step_size=2)
    source = shot.source_recipe(cfg, 3, 5, train)
    members = stacked.Members(np.arange(60), y)
    nets, hists = stacked.train(source, table, [members] * 2,
                                [stacked.shuffled(60, 16)] * 2, [0, 1], np.zeros(0, np.int64))
    assert hists[0].terms["class_loss"][-1] < hists[0].terms["class_loss"][0]
    adapt = shot.adapt_recipe(cfg, source, train, block=False)
    pool = stacked.Members(60 + np.arange(60), np.zeros(60, np.int64))
    adapted, h2 = stacked.train(adapt, table, [pool] * 2, [stacked.shuffled(60, 16)] * 2,
                                [0, 1], np.zeros(0, np.int64), nets)
    for before, after in zip(nets, adapted, strict=True):
        assert torch.equal(before.classifier.weight, after.classifier.weight)
        assert torch.equal(before.classifier.bias, after.classifier.bias)
        assert not torch.equal(before.bottleneck.weight, after.bottleneck.weight)
    assert set(h2[0].terms) == {"im_loss", "centroid_loss"}


def test_stage_two_reads_no_label_of_its_members():
    """The pool members' labels are placeholders: any values give the same adapted nets."""
    z, y = clusters(60)
    table = torch.cat([z, z + 2.0]).float()
    cfg, train = Shot(bottleneck=8), Train(epochs=2, batch_size=16, step_size=2)
    source = shot.source_recipe(cfg, 3, 5, train)
    nets, _ = stacked.train(source, table, [stacked.Members(np.arange(60), y)],
                            [stacked.shuffled(60, 16)], [0], np.zeros(0, np.int64))
    out = []
    for labels in (np.zeros(60, np.int64), y):
        adapted, _ = stacked.train(shot.adapt_recipe(cfg, source, train, block=False), table,
                                   [stacked.Members(60 + np.arange(60), labels)],
                                   [stacked.shuffled(60, 16)], [0], np.zeros(0, np.int64), nets)
        out.append(adapted[0].bottleneck.weight)
    assert torch.equal(*out)
