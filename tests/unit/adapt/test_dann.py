"""DANN: gradient reversal, the reversal-weight ramp, and adaptation on a shifted toy problem."""

from __future__ import annotations

import itertools

import numpy as np
import torch

from synth2real.adapt import dann
from synth2real.analysis import domain
from synth2real.config import Dann, Train
from synth2real.model import head, stacked
from tests import reference_trainers as ref


def shifted_domains(n=300, shift=1.0, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centers = rng.normal(0, 1, (3, 12)) * 4
    Xs = centers[y] + rng.normal(0, 1, (n, 12))
    Xt = centers[rng.integers(0, 3, n)] + rng.normal(0, 1, (n, 12)) + shift  # a constant domain shift
    return Xs.astype(np.float32), y, Xt.astype(np.float32)


def test_gradient_reversal_flips_and_scales_the_gradient():
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = dann.grad_reverse(x, 0.5)
    assert torch.equal(y, x)  # identity forward
    (y * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert torch.allclose(x.grad, torch.tensor([-0.5, -1.0, -1.5]))


def test_reversal_weight_ramps_from_zero_towards_one():
    assert dann.ramp(0.0, 10.0) == 0.0
    vals = [dann.ramp(p, 10.0) for p in np.linspace(0, 1, 11)]
    assert all(a < b for a, b in itertools.pairwise(vals)) and 0.99 < vals[-1] < 1.0


def fit(cfg: Dann, Xs, ys, Xt, train: Train, seeds: list[int]):
    """The engine's DANN nets (one per seed) on source (Xs, ys) and pool Xt."""
    table = torch.from_numpy(np.concatenate([Xs, Xt]).astype(np.float32))
    return dann.train_dann(cfg, stacked.Members(np.arange(len(ys)), ys), len(ys) + np.arange(len(Xt)),
                           table, 3, train, seeds)


def test_dann_learns_labels_and_brings_the_domains_closer_than_no_reversal():
    Xs, y, Xt = shifted_domains()
    train = Train(epochs=40, batch_size=32, step_size=100)
    pads = {}
    for w in (0.0, 1.0):  # same net and data; only the reversed domain gradient differs
        (net,), (hist,) = fit(Dann(bottleneck=16, hidden=32, epochs=40, domain_weight=w), Xs, y, Xt,
                              train, [0])
        assert (net(torch.from_numpy(Xs)).argmax(1).numpy() == y).mean() > 0.95
        pads[w] = domain.proxy_a_distance(head.embed(net, Xs), head.embed(net, Xt), 300)
    assert len(hist.terms["domain_loss"]) == 40
    assert pads[1.0] < pads[0.0] - 0.2


def test_stacked_dann_nets_equal_one_model_reference_nets():
    Xs, y, Xt = shifted_domains(n=90)
    train = Train(epochs=3, step_size=2, batch_size=16)
    cfg = Dann(bottleneck=8, hidden=6, epochs=3, weight_decay=1e-3)
    nets, _ = fit(cfg, Xs, y, Xt, train, [0, 2])
    for seed, net in zip([0, 2], nets):
        alone = ref.train_dann(cfg, Xs, y, Xt, 3, train, seed)
        for (name, pa), pb in zip(alone.named_parameters(), net.parameters(), strict=True):
            assert torch.allclose(pa, pb, atol=1e-5, rtol=0), name
        assert np.array_equal(head.logits(alone, Xt).argmax(1), head.logits(net, Xt).argmax(1))
