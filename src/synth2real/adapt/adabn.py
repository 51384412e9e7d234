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
import logging
from collections.abc import Iterable

import numpy as np
import torch
from torch import nn

from synth2real.config import AdaBN, Export, Features
from synth2real.model.backbone import Backbone, export_onnx, load_backbone
from synth2real.model.features import Extractor, batches, extract_to, manifest_paths
from synth2real.store import read_json, write_json

log = logging.getLogger(__name__)


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


def extract_adabn(pool: str, real_test: str, target_labeled: str, backbone: str, onnx: str,
                  pool_features: str, real_test_features: str, target_labeled_features: str,
                  stats: str, *, features: Features, adabn: AdaBN, export: Export,
                  data_seed: int) -> None:
    """Stage: BN statistics re-estimated on the unlabeled pool, then target features with them.

    The statistics come from `adabn.images` pool images (torch); the adapted backbone is
    exported to ONNX (`onnx`), parity-checked, and extracts the pool, the real test set and
    the labeled target photos (the manifests of those names) once.
    """
    info = read_json(backbone)
    size = int(info["image_size"])
    pool_paths = manifest_paths(pool)
    rng = np.random.default_rng(data_seed)
    fit_paths = [pool_paths[i] for i in np.sort(rng.permutation(len(pool_paths))[: adabn.images])]
    adapted, bn_stats = adapt(load_backbone(info["path"]), batches(fit_paths, size, adabn.batch_size))
    log.info("AdaBN: %d BatchNorm layers re-estimated on %d pool images (mean |shift| %.4f)",
             int(bn_stats["bn_layers"]), int(bn_stats["images"]), bn_stats["mean_abs_mean_shift"])
    export_onnx(adapted, onnx, size, "features", opset=export.opset)
    ex = Extractor(adapted, features.engine, onnx)
    out: dict[str, object] = {"engine": features.engine, "adabn": bn_stats}
    for name, manifest, npz in (("pool", pool, pool_features),
                                ("real_test", real_test, real_test_features),
                                ("target_labeled", target_labeled, target_labeled_features)):
        out[name] = extract_to(manifest_paths(manifest), ex, size, features, npz, name, "adabn")
    write_json(out, stats)
