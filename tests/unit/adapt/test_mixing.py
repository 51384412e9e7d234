"""Minibatch mixing: the real:synthetic split, every minibatch's composition, and mixed heads
equal to the one-model reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synth2real.adapt import engine, mixing
from synth2real.config import Train
from synth2real.model import head, stacked
from tests import reference_trainers as ref
from tests.unit.adapt.test_dann import shifted_domains


@pytest.mark.parametrize("ratio,expected", [(1, (16, 16)), (7, (4, 28)), (15, (2, 30))])
def test_minibatch_split_follows_the_ratio(ratio, expected):
    assert mixing.split_batch(32, ratio) == expected


def test_every_minibatch_holds_the_ratio_and_real_images_cycle():
    plan = mixing.mixed(n_synthetic=100, n_real=9, ratio=7, batch_size=32)
    stream = stacked.Stream(0)
    seen_real = []
    for _ in range(3):
        steps = plan(stream)
        assert len(steps) == 4  # ceil(100 / 28) minibatches: one pass over the synthetic set
        for s in steps:
            real = s.positions[s.positions >= 100]
            assert len(real) == 4 and len(set(real)) == 4
            seen_real += list(real)
        assert sorted(np.concatenate([s.positions[s.positions < 100] for s in steps])) == list(range(100))
    # 3 epochs x 4 minibatches x 4 real = 48 draws: every real image over and over, evenly.
    counts = np.bincount(np.asarray(seen_real) - 100, minlength=9)
    assert counts.min() >= 4 and counts.max() - counts.min() <= 4
    with pytest.raises(ValueError, match="at least one"):
        mixing.mixed(100, 0, 7, 32)


def test_mixed_heads_learn_and_equal_one_model_reference_heads():
    Xs, y, Xt = shifted_domains(n=120)
    cfg = Train(epochs=4, step_size=2, batch_size=16)
    sizes = (5, 33, 18)  # per-seed pseudo-labelled sets of different sizes
    table = torch.from_numpy(np.concatenate([Xs, Xt]).astype(np.float32))
    members = [stacked.Members(np.r_[np.arange(120), 120 + np.arange(n)], np.r_[y, y[:n]])
               for n in sizes]
    seeds = [0, 1, 2]
    fitted = engine.fit_heads(table, 3, members, [mixing.mixed(120, n, 3, 16) for n in sizes], seeds,
                              cfg)
    for n, seed, (net, hist) in zip(sizes, seeds, fitted):
        X = np.concatenate([Xs, Xt[:n]])
        alone = ref.train_head(X, np.r_[y, y[:n]], 3, cfg, seed, order="mixed", n_real=n, ratio=3)
        for pa, pb in zip(alone.parameters(), net.parameters(), strict=True):
            assert torch.allclose(pa, pb, atol=1e-5, rtol=0)
        assert np.array_equal(head.logits(alone, Xt).argmax(1), head.logits(net, Xt).argmax(1))
    # Real images that are copies of labeled source images: the mixed head learns the labels.
    Xs, y, _ = shifted_domains()
    copies = stacked.Members(np.r_[np.arange(300), np.arange(20)], np.r_[y, y[:20]])
    (net, _), = engine.fit_heads(torch.from_numpy(Xs), 3, [copies], [mixing.mixed(300, 20, 7, 32)],
                                  [0], Train(epochs=20, step_size=100))
    assert (head.logits(net, Xs).argmax(1) == y).mean() > 0.95
