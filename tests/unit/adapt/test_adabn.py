"""AdaBN changes only BatchNorm statistics, to the target's population statistics."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from synth2real.adapt import adabn


def tiny_backbone():
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 3),
                         nn.BatchNorm2d(4), nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()


def test_adabn_changes_only_batchnorm_statistics():
    torch.manual_seed(0)
    bb = tiny_backbone()
    before = {k: v.clone() for k, v in bb.state_dict().items()}
    rng = np.random.default_rng(0)
    target = [(rng.normal(2.0, 3.0, (8, 3, 12, 12))).astype(np.float32) for _ in range(4)]
    adapted, info = adabn.adapt(bb, target)
    after = adapted.state_dict()
    stats_keys = {k for k in after if k.endswith(("running_mean", "running_var", "num_batches_tracked"))}
    for k, v in after.items():
        if k in stats_keys:
            continue
        assert torch.equal(v, before[k]), f"{k} changed"  # weights, BN affine: untouched
    assert not torch.allclose(after["1.running_mean"], before["1.running_mean"])
    assert not torch.allclose(after["4.running_var"], before["4.running_var"])
    for k, v in bb.state_dict().items():
        assert torch.equal(v, before[k])  # the original is not modified
    assert not adapted.training and info["images"] == 32 and info["bn_layers"] == 2


def test_adabn_statistics_are_the_target_population_statistics():
    torch.manual_seed(0)
    bb = nn.Sequential(nn.BatchNorm2d(3)).eval()
    rng = np.random.default_rng(1)
    data = rng.normal(5.0, 2.0, (64, 3, 4, 4)).astype(np.float32)
    adapted, _ = adabn.adapt(bb, [data[:32], data[32:]])
    # cumulative average over equal batches = the population mean per channel
    assert np.allclose(adapted[0].running_mean.numpy(), data.mean(axis=(0, 2, 3)), atol=1e-5)
