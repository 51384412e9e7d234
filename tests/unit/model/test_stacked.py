"""The one training loop: many models at once give each model the one it would be alone.

Random streams, dropout masks, Adam with per-model step counts, StepLR, and the study's
head trained stacked against the one-model reference trainer (tests/reference_trainers.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synth2real.config import Train
from synth2real.model import head, stacked
from tests import reference_trainers as ref


def toy(n, seed=0, dim=24):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centers = np.random.default_rng(99).normal(0, 1, (3, dim))
    return (centers[y] + rng.normal(0, 1, (n, dim))).astype(np.float32), y


def assert_same_model(a: torch.nn.Module, b: torch.nn.Module, X: np.ndarray, tol: float = 1e-5) -> None:
    for (name, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert torch.allclose(pa, pb, atol=tol, rtol=0), name
    la, lb = head.logits(a, X), head.logits(b, X)
    assert np.abs(la - lb).max() < tol * 100
    assert np.array_equal(la.argmax(1), lb.argmax(1))


def test_a_stream_is_its_seed_and_nothing_else():
    a, b, c = stacked.Stream(3), stacked.Stream(3), stacked.Stream(4)
    assert np.array_equal(a.permutation(50), b.permutation(50))
    assert np.array_equal(a.raw(1000), b.raw(1000))
    assert not np.array_equal(stacked.Stream(3).permutation(50), c.permutation(50))


def test_dropout_keeps_the_documented_share_and_keeps_the_mean():
    level = stacked.keep_level(0.2)
    assert level == 52429 and stacked.dropout_scale(0.2) == pytest.approx(1 / 0.80000305, rel=1e-7)
    keep = stacked.Stream(0).raw(2_000_000) < level
    assert keep.mean() == pytest.approx(level / 65536, abs=1e-3)
    assert stacked.keep_level(0.0) == 65536  # p = 0 keeps every element (draws are < 65536)


def test_dropout_masks_do_not_depend_on_the_other_models_of_the_stack():
    def masks(rows, seeds):
        streams = [stacked.Stream(s) for s in seeds]
        width = max(rows)
        b = stacked.Batch(torch.ones(len(rows), width, 40), torch.zeros(len(rows), width, dtype=torch.int64),
                          torch.zeros(len(rows), width), list(rows), None, streams, 0.0)
        return b.dropped(width, 40, 0.5)

    stacked_with_others = masks([9, 12, 0], seeds=(5, 6, 7))
    for k, (seed, rows) in enumerate([(5, 9), (6, 12)]):
        alone = masks([rows], seeds=(seed,))[0]
        assert torch.equal(stacked_with_others[k, :rows], alone), seed
    assert not torch.equal(stacked_with_others[0, :9], stacked_with_others[1, :9])
    assert stacked_with_others[0, 9:].all()  # padding rows: dropped (they carry no example)
    assert stacked_with_others[2].all()  # a model without a minibatch draws nothing


def test_adam_is_torch_adam_per_model_with_its_own_step_count():
    gen = torch.Generator().manual_seed(0)
    init = torch.randn(3, 4, 5, generator=gen)
    grads = [torch.randn(3, 4, 5, generator=gen) for _ in range(6)]
    active = [[0, 1, 2], [0, 2], [0, 1, 2], [1], [0, 1, 2], [0, 1]]
    params = {"w": init.clone().requires_grad_()}
    opt = stacked.Adam(params, lr=0.01, weight_decay=0.01)
    for g, act in zip(grads, active):
        params["w"].grad = g.clone()
        opt.step(act)
    for k in range(3):
        p = init[k].clone().requires_grad_()
        reference = torch.optim.Adam([p], lr=0.01, weight_decay=0.01, fused=True)
        for g, act in zip(grads, active):
            if k in act:
                p.grad = g[k].clone()
                reference.step()
        assert torch.equal(p.detach(), params["w"][k].detach()), k


def test_the_schedule_is_steplr_multiplied_in_place():
    X, y = toy(40)
    cfg = Train(epochs=7, step_size=2, gamma=0.1, lr=1e-3, batch_size=16)
    net = stacked.seeded(lambda: head.Head(3, cfg.dropout, 24), [0])
    hist = stacked.fit(net, [stacked.Stream(0)], [stacked.Members(np.arange(40), y)],
                       [stacked.shuffled(40, 16)], torch.from_numpy(X), stacked.head_loss(0.2),
                       stacked.Schedule.of(cfg))[0]
    opt = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=1e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
    expected = []
    for _ in range(7):
        expected.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert hist.lr == expected
    assert len(hist.terms["loss"]) == 7 and hist.terms["loss"][-1] < hist.terms["loss"][0]


@pytest.mark.parametrize("sizes", [(90, 90, 90), (90, 57, 130)])
def test_stacked_heads_equal_one_model_heads(sizes):
    """Models of different training sets (different step counts per epoch) in one stack."""
    cfg = Train(epochs=5, step_size=2, batch_size=16)
    data = [toy(n, seed=n) for n in sizes]
    table = torch.from_numpy(np.concatenate([X for X, _ in data]))
    offsets = np.cumsum([0, *sizes[:-1]])
    members = [stacked.Members(o + np.arange(n), y) for o, n, (_, y) in zip(offsets, sizes, data)]
    seeds = [0, 4, 7]
    nets = stacked.seeded(lambda: head.Head(3, cfg.dropout, 24), seeds)
    stacked.fit(nets, [stacked.Stream(s) for s in seeds], members,
                [stacked.shuffled(n, cfg.batch_size) for n in sizes], table,
                stacked.head_loss(cfg.dropout), stacked.Schedule.of(cfg))
    for (X, y), seed, net in zip(data, seeds, nets):
        assert_same_model(ref.train_head(X, y, 3, cfg, seed), net, X)
    assert not torch.equal(nets[0].linear.weight, nets[1].linear.weight)


def test_a_model_is_the_same_alone_and_in_a_stack():
    cfg = Train(epochs=3, step_size=2, batch_size=8)
    X, y = toy(50)
    table = torch.from_numpy(X)

    def train(seeds):
        nets = stacked.seeded(lambda: head.Head(3, cfg.dropout, 24), seeds)
        stacked.fit(nets, [stacked.Stream(s) for s in seeds],
                    [stacked.Members(np.arange(50), y)] * len(seeds),
                    [stacked.shuffled(50, 8)] * len(seeds), table, stacked.head_loss(cfg.dropout),
                    stacked.Schedule.of(cfg))
        return nets

    assert_same_model(train([3])[0], train([1, 3, 2])[1], X, tol=1e-6)


def test_members_need_a_label_per_row():
    with pytest.raises(ValueError, match="one label per training row"):
        stacked.Members(np.arange(3), np.zeros(2))
    with pytest.raises(ValueError, match="at least one row"):
        stacked.Members(np.arange(0), np.zeros(0))
