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
