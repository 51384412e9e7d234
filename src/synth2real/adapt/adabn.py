"""AdaBN (Li et al., 2016): re-estimate the backbone's BatchNorm statistics on the target.

Only the BatchNorm running mean/variance change; every learned weight (conv
kernels, BN scale and shift) stays as trained. Target images are then
normalised with target statistics, which removes first- and second-order
feature shift layer by layer at the cost of one forward pass over unlabeled
real images. The adapted backbone is exported to ONNX like the original and
extracts the target features once (its own cache).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

import numpy as np
import torch
from torch import nn

from synth2real.model.backbone import Backbone


def bn_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def adapt(backbone: Backbone, batches: Iterable[np.ndarray]) -> tuple[Backbone, dict[str, float]]:
    """A copy of `backbone` whose BN running statistics are the target's, plus stats.

    The statistics are the cumulative average over all `batches` (BN momentum
    None), not an exponential average dominated by the last batches. The
    returned backbone is frozen and in eval mode; `backbone` is not modified.
    """
    bb = copy.deepcopy(backbone)
    layers = bn_layers(bb)
    if not layers:
        raise ValueError("the backbone has no BatchNorm layer: AdaBN has nothing to adapt")
    before = [m.running_mean.clone() for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over every batch seen
    bb.eval()
    for m in layers:
        m.train()  # BN in train mode updates running stats; nothing else in MobileNetV2 trains
    n = 0
    with torch.no_grad():
        for batch in batches:
            bb(torch.from_numpy(batch))
            n += len(batch)
    if n < 2:
        raise ValueError("AdaBN needs at least 2 target images")
    bb.eval()
    shift = float(np.mean([(m.running_mean - b).abs().mean().item() for m, b in zip(layers, before)]))
    return bb, {"images": float(n), "bn_layers": float(len(layers)), "mean_abs_mean_shift": shift}
