"""Every seed trained in one batched pass equals that seed trained alone: dropout masks,
Adam, minibatch order, and the study's head on equal and on per-seed training sets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from synth2real.config import Train
from synth2real.model import head, stacked


def toy(n, seed=0, dim=24):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centers = np.random.default_rng(99).normal(0, 1, (3, dim))
    return (centers[y] + rng.normal(0, 1, (n, dim))).astype(np.float32), y


def assert_same_model(a: torch.nn.Module, b: torch.nn.Module, X: np.ndarray, tol: float = 1e-6) -> None:
    for (name, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert torch.allclose(pa, pb, atol=tol, rtol=0), name
    la, lb = head.logits(a, X), head.logits(b, X)
    assert np.abs(la - lb).max() < tol * 100
    assert np.array_equal(la.argmax(1), lb.argmax(1))


def test_dropout_masks_are_those_of_F_dropout_from_the_same_rng_state():
    x = torch.ones(7, 50)
    expected, gens = [], []
    for seed in (3, 4):
        torch.manual_seed(seed)
        g = torch.Generator()
        g.set_state(torch.get_rng_state())
        gens.append(g)
        expected.append([F.dropout(x, 0.3, training=True) for _ in range(2)])  # two steps
    got = [stacked.dropout(torch.stack([x, x]), 0.3, gens) for _ in range(2)]
    for step in range(2):
        for k in range(2):
            assert torch.equal(got[step][k], expected[k][step])
    assert (got[0][0] == 0).any() and not torch.equal(got[0][0], got[0][1])


def test_dropout_padding_rows_stay_zero_and_real_rows_keep_their_mask():
    torch.manual_seed(0)
    state = torch.get_rng_state()
    g1, g2 = torch.Generator(), torch.Generator()
    g1.set_state(state)
    g2.set_state(state)
    full = stacked.dropout(torch.ones(1, 3, 40), 0.5, [g1])
    padded = stacked.dropout(torch.ones(1, 5, 40), 0.5, [g2], rows=[3])
    assert torch.equal(padded[0, :3], full[0]) and not padded[0, 3:].any()


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_adam_is_torch_adam_per_seed_with_its_own_step_count(weight_decay):
    rng = torch.Generator().manual_seed(0)
    init = torch.randn(3, 4, 5, generator=rng)
    grads = [torch.randn(3, 4, 5, generator=rng) for _ in range(6)]
    active = [None, [0, 2], None, [1], None, [0, 1]]  # seeds whose minibatch exists this step
    params = {"w": init.clone().requires_grad_()}
    opt = stacked.Adam(params, lr=0.01, weight_decay=weight_decay)
    for g, act in zip(grads, active):
        params["w"].grad = g.clone()
        opt.step(act)
    for k in range(3):
        p = init[k].clone().requires_grad_()
        ref = torch.optim.Adam([p], lr=0.01, weight_decay=weight_decay)
        for g, act in zip(grads, active):
            if act is None or k in act:
                p.grad = g[k].clone()
                ref.step()
        assert torch.equal(p.detach(), params["w"][k].detach())


def test_step_lr_is_multiplied_in_place_like_torch():
    net = torch.nn.Linear(2, 2)
    cfg = Train(lr=1e-3, step_size=2, gamma=0.1)
    opt, sched = head.optimizer(net, cfg)
    mine = stacked.Adam(stacked.stack([net]), cfg.lr)
    for epoch in range(7):
        assert mine.lr == opt.param_groups[0]["lr"]
        opt.step()
        sched.step()
        mine.epoch_done(epoch + 1, cfg)


def test_seeds_sharing_their_arrays_share_their_rows():
    a, b = toy(10), toy(6, seed=1)
    X, y, offsets = stacked.table([a, a, b])
    assert offsets == [0, 0, 10] and len(X) == len(y) == 16


@pytest.mark.parametrize("sizes", [(90, 90, 90), (90, 57, 130)])
def test_batched_heads_equal_one_seed_heads(sizes):
    cfg = Train(epochs=5, step_size=2, batch_size=16)
    shared = toy(90)
    data = [shared] * 3 if len(set(sizes)) == 1 else [toy(n, seed=n) for n in sizes]
    seeds = [0, 4, 7]
    batched = stacked.train_heads(data, 3, cfg, seeds)
    for (X, y), seed, (model, hist) in zip(data, seeds, batched):
        alone, hist_alone = head.train_head(X, y, 3, cfg, seed)
        assert_same_model(alone, model, X)
        assert hist.lr == hist_alone.lr
        assert hist.loss == pytest.approx(hist_alone.loss, rel=1e-5)
    assert not torch.equal(batched[0][0].linear.weight, batched[1][0].linear.weight)
