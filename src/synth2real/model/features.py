"""Backbone features, computed once per image set and cached on disk.

The backbone is frozen, so a head never needs the images again: every variant
and seed trains on the cached features of its image sets in seconds. Extraction runs in
onnxruntime (~10x eager torch on CPU, see `make bench`) after checking, on the
first batch of every set, that its features match torch's to `parity_tol`.

When the study trains MobileNetV2's last block (`trainable: last_block`), the same
pass also caches the block's input (kind `block`: [N, 49, 320] at 224 px, float16,
15,680 values = 31 KB per image; the backbone graph gives it as a second output).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from synth2real.config import Features
from synth2real.data.imagesets import save_features
from synth2real.data.manifests import read_csv
from synth2real.errors import DataError
from synth2real.model.backbone import Backbone, load_backbone, max_abs_diff, ort_session
from synth2real.predict import ImageError, load_image, preprocess
from synth2real.store import read_json, write_json

log = logging.getLogger(__name__)


ImageTransform = Callable[[Image.Image], Image.Image]


def batches(paths: Sequence[str], size: int, batch_size: int,
            transform: ImageTransform | None = None) -> Iterator[np.ndarray]:
    """Preprocessed float32 batches [B, 3, size, size]; a bad file stops with its name.

    `transform` (e.g. `align.transform`) edits each decoded image before the
    one preprocessing; `None` leaves the images as they are.
    """
    for i in range(0, len(paths), batch_size):
        chunk = paths[i : i + batch_size]
        try:
            images = [load_image(p) for p in chunk]
            if transform is not None:
                images = [transform(im) for im in images]
            yield np.stack([preprocess(im, size) for im in images])
        except ImageError as e:
            raise DataError(f"{e}. Remove or replace the file, then rerun.") from None


class Extractor:
    """Runs the backbone with the chosen engine; `__call__` maps a batch to features."""

    def __init__(self, backbone: Backbone, engine: str, onnx_path: str | Path | None = None):
        self.backbone = backbone
        self.engine = engine
        self.session = None
        if engine == "onnxruntime":
            if onnx_path is None:
                raise ValueError("onnxruntime engine needs the exported backbone ONNX file")
            self.session = ort_session(onnx_path, threads=torch.get_num_threads())

    def torch(self, batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self.backbone(torch.from_numpy(batch)).numpy()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        if self.session is None:
            return self.torch(batch)
        return self.session.run(None, {"image": batch})[0]

    def both(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(pooled features [B, 1280], last block inputs [B, P, 320]) of one pass."""
        if self.session is None:
            with torch.inference_mode():
                x = torch.from_numpy(batch)
                return self.backbone(x).numpy(), self.backbone.block_input(x).numpy()
        out = self.session.run(None, {"image": batch})
        if len(out) < 2:
            raise DataError("the backbone graph has no block_input output: rerun rule backbone "
                            "(an older version exported pooled features only)")
        return out[0], out[1]


def extract(
    paths: Sequence[str], extractor: Extractor, image_size: int, batch_size: int,
    parity_tol: float, transform: ImageTransform | None = None, blocks: list | None = None,
) -> tuple[np.ndarray, dict[str, float]]:
    """Features [N, 1280] float32 for `paths`, plus timing/parity stats; with a list `blocks`,
    each batch's last block inputs are appended to it too (float16)."""
    feats = []
    stats: dict[str, float] = {"images": float(len(paths))}
    t0 = time.perf_counter()
    for i, batch in enumerate(batches(paths, image_size, batch_size, transform)):
        if blocks is None:
            out = extractor(batch)
        else:
            out, block = extractor.both(batch)
            blocks.append(block.astype(np.float16))
        if i == 0 and extractor.session is not None:
            diff = max_abs_diff(out, extractor.torch(batch))
            stats["parity_max_abs_diff"] = diff
            if diff > parity_tol:
                raise RuntimeError(
                    f"onnxruntime backbone features differ from torch by {diff:.2e} "
                    f"(> features.parity_tol={parity_tol}); use features.engine: torch"
                )
        feats.append(out.astype(np.float32, copy=False))
        done = min((i + 1) * batch_size, len(paths))
        if i % 20 == 0 or done == len(paths):
            rate = done / max(time.perf_counter() - t0, 1e-9)
            log.info("features %d/%d (%.1f images/s)", done, len(paths), rate)
    stats["seconds"] = time.perf_counter() - t0
    stats["images_per_s"] = len(paths) / max(stats["seconds"], 1e-9)
    return np.concatenate(feats) if feats else np.zeros((0, 1280), np.float32), stats


def extract_to(paths: Sequence[str], extractor: Extractor, image_size: int, features: Features,
               out_npz: str | Path, imageset: str, kind: str,
               transform: ImageTransform | None = None,
               block_npz: str | Path | None = None) -> dict[str, float]:
    """Extract and cache the `kind` features of image set `imageset`'s `paths` (and, given
    `block_npz`, their last block inputs, kind `block`); returns the extraction stats."""
    blocks: list | None = None if block_npz is None else []
    feats, stats = extract(paths, extractor, image_size, features.batch_size, features.parity_tol,
                           transform, blocks)
    save_features(out_npz, feats, paths, imageset, kind)
    if block_npz is not None:
        save_features(block_npz, np.concatenate(blocks) if blocks else
                      np.zeros((0, 0, 0), np.float16), paths, imageset, "block")
    return stats


def manifest_paths(manifest_csv: str | Path) -> list[str]:
    return [r["path"] for r in read_csv(manifest_csv)]


def extract_imageset(manifest: str, backbone: str, onnx: str, npz: str, stats: str, *,
                     imageset: str, features: Features, block_npz: str | None = None) -> None:
    """Stage: the plain backbone features of every image of one manifest, cached in `npz`
    (and their last block inputs in `block_npz`, when the study trains the last block)."""
    info = read_json(backbone)
    ex = Extractor(load_backbone(info["path"]), features.engine, onnx)
    out = extract_to(manifest_paths(manifest), ex, int(info["image_size"]), features, npz,
                     imageset, "plain", block_npz=block_npz)
    write_json({"engine": features.engine, **out}, stats)
