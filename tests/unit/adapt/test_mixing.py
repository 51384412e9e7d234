"""Minibatch mixing: the real:synthetic split and a mixed-batch head that learns."""

from __future__ import annotations

import pytest
import torch

from synth2real.adapt import mixing
from synth2real.config import Train
from tests.unit.adapt.test_dann import shifted_domains


@pytest.mark.parametrize("ratio,expected", [(1, (16, 16)), (7, (4, 28)), (15, (2, 30))])
def test_minibatch_split_follows_the_ratio(ratio, expected):
    assert mixing.split_batch(32, ratio) == expected


def test_mixed_training_learns_and_needs_real_images():
    Xs, y, _ = shifted_domains()
    head, hist = mixing.train_head_mixed(Xs, y, Xs[:20], y[:20], 7, 3, Train(epochs=20, step_size=100), seed=0)
    assert (head(torch.from_numpy(Xs)).argmax(1).numpy() == y).mean() > 0.95
    assert len(hist.loss) == 20
    with pytest.raises(ValueError, match="at least one"):
        mixing.train_head_mixed(Xs, y, Xs[:0], y[:0], 7, 3, Train(epochs=1), seed=0)


def test_batched_mixed_heads_equal_one_seed_mixed_heads():
    Xs, y, Xt = shifted_domains(n=120)
    real = [(Xt[:n], y[:n]) for n in (5, 33, 18)]  # per-seed pseudo-labelled sets of other sizes
    cfg = Train(epochs=4, step_size=2, batch_size=16)
    batched = mixing.train_heads_mixed(Xs, y, real, 3, 3, cfg, [0, 1, 2])
    for seed, (Xr, yr), (model, hist) in zip([0, 1, 2], real, batched):
        alone, hist_alone = mixing.train_head_mixed(Xs, y, Xr, yr, 3, 3, cfg, seed)
        for pa, pb in zip(alone.parameters(), model.parameters(), strict=True):
            assert torch.allclose(pa, pb, atol=1e-6, rtol=0)
        assert torch.equal(alone(torch.from_numpy(Xt)).argmax(1), model(torch.from_numpy(Xt)).argmax(1))
        assert hist.loss == pytest.approx(hist_alone.loss, rel=1e-5) and hist.lr == hist_alone.lr
    with pytest.raises(ValueError, match="at least one"):
        mixing.train_heads_mixed(Xs, y, [(Xt[:0], y[:0])], 3, 3, cfg, [0])
