"""Data-level alignment: bring source images to the target domain's resolution.

The cheap cousin of the image-refinement networks of the synthetic-to-real
literature: before the backbone, each source image is downsampled so that its
shorter side matches the target's typical shorter side (the median over the
unlabeled real pool, measured from the image headers), then the one
preprocessing (`predict.preprocess`) upsamples it to the network input as it
does for every real photo. Source and target then share the same blur.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PIL import Image

from synth2real.config import Align, Features
from synth2real.data.manifests import typical_side
from synth2real.data.resolution import degrade
from synth2real.model.backbone import load_backbone
from synth2real.model.features import Extractor, extract_to, manifest_paths
from synth2real.store import read_json, write_json

log = logging.getLogger(__name__)


def transform(side: int) -> Callable[[Image.Image], Image.Image]:
    """The per-image transform applied before `predict.preprocess` for aligned source features."""
    return lambda im: degrade(im, side)


def target_side(pool_paths: list[str], align: Align, measured: dict | None = None) -> int:
    """The side source images are brought to: `align.target_side`, else the median shorter
    side of the pool's images (`measured`, when the caller has it already)."""
    if align.target_side:
        return align.target_side
    measured = measured or typical_side(pool_paths)
    side = round(measured["median_side"])
    log.info("target resolution: median shorter side %.0f px over %d pool images; source -> %d px",
             measured["median_side"], measured["images"], side)
    return side


def extract_aligned(source: str, pool: str, backbone: str, onnx: str, npz: str, stats: str, *,
                    features: Features, align: Align) -> None:
    """Stage: source features after bringing every source image (manifest `source`) to the
    target's resolution (measured on the pool's manifest unless `align.target_side`)."""
    pool_paths = manifest_paths(pool)
    measured = typical_side(pool_paths)
    side = target_side(pool_paths, align, measured)
    info = read_json(backbone)
    ex = Extractor(load_backbone(info["path"]), features.engine, onnx)
    out = extract_to(manifest_paths(source), ex, int(info["image_size"]), features, npz, "source",
                     "aligned", transform(side))
    write_json({"engine": features.engine, "target_side": side, "pool_resolution": measured,
                **out}, stats)
