"""Stages: refine the synthetic images with a pixel-level part, then their backbone features.

Every part works on the aligned source (`adapt.align`): each synthetic image brought to the
target's typical side and centre-cropped square, the shape the refiners take. The refined
images are written as PNGs (lossless: the backbone reads exactly what the refiner made),
one per source image, with a manifest mapping each original path to its refined file; the
feature pass then caches their features under the *original* paths, so a variant with a
pixel part reads the source set as any other, in its own feature kind (`fda`, `simgan`, ...).

Protocol of every part: train on refined synthetic images, test on the real photos as they
are. One refiner per study, trained on the synthetic training split and the unlabeled pool
(never a label), seeded by `data_seed`: all variants and seeds read the same refined images.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np
from PIL import Image

from synth2real.adapt import align as align_part
from synth2real.adapt.pixel.fda import fda_uint8, window
from synth2real.config import Align, Features
from synth2real.config.pixel import Pixel, PixelPart
from synth2real.data.imagesets import save_features
from synth2real.data.manifests import read_csv, write_csv
from synth2real.data.resolution import square
from synth2real.errors import ConfigError, DataError
from synth2real.model.backbone import load_backbone
from synth2real.model.features import Extractor, extract
from synth2real.predict import ImageError, load_image
from synth2real.store import read_json, write_json

log = logging.getLogger(__name__)

REFINED_FIELDS = ["path", "label", "rank", "split", "refined", "style"]
# Salt of FDA's draw of target images (the stream of `data_seed` for this part alone).
FDA_STREAM = 0xFDA


def load_square(paths: list[str], side: int) -> np.ndarray:
    """The images at `paths` as uint8 [N, side, side, 3] (`square`); a bad file names itself."""
    out = np.empty((len(paths), side, side, 3), np.uint8)
    for i, p in enumerate(paths):
        try:
            out[i] = square(load_image(p), side)
        except ImageError as e:
            raise DataError(f"{e}. Remove or replace the file, then rerun.") from None
    return out


def refined_name(row: dict[str, str]) -> str:
    """Where a source image's refined copy goes, under the part's image folder: one folder
    per class, the image's rank first so the files sort as the manifest does."""
    return f"{row['label']}/{int(row['rank']):05d}_{Path(row['path']).stem}.png"


def refine(source: str, pool: str, images: str, manifest: str, stats: str, *, part: PixelPart,
           pixel: Pixel, align: Align, data_seed: int, resume: str) -> None:
    """Stage: every image of the source manifest refined by `part`, as PNGs under `images`,
    listed in `manifest` (original path -> refined file); `stats` records the side, the
    settings' effect and, for a GAN, its training. A GAN checkpoints to `resume` while it
    trains, resumes from it after an interrupt, and removes it when done."""
    rows, pool_paths = read_csv(source), [r["path"] for r in read_csv(pool)]
    side = align_part.target_side(pool_paths, align)
    started = time.perf_counter()
    src = load_square([r["path"] for r in rows], side)
    tgt = load_square(pool_paths, side)
    styles = [""] * len(rows)
    if part == "fda":
        b = window(side, pixel.fda.beta)
        if b == 0:
            raise ConfigError(f"methods.pixel.fda.beta={pixel.fda.beta:g} swaps no frequency at "
                              f"{side} px (floor({side} x beta) = 0); give beta >= {1 / side:.3f}")
        # Each source image takes the amplitude of one pool image, drawn at random.
        pick = np.random.default_rng([data_seed, FDA_STREAM]).integers(0, len(tgt), len(src))
        refined = fda_uint8(src.astype(np.float64), tgt[pick].astype(np.float64),
                            pixel.fda.beta)
        styles = [pool_paths[i] for i in pick]
        record = {"fda": {"beta": pixel.fda.beta, "window": b,
                          "frequencies_swapped": (2 * b - 1) ** 2, "frequencies": side * side}}
    else:
        import torch

        from synth2real.adapt.pixel import gan

        train = np.array([r["split"] == "train" for r in rows])
        device = "cuda" if torch.cuda.is_available() else "cpu"
        Path(resume).parent.mkdir(parents=True, exist_ok=True)
        refiner, training = gan.train(part, getattr(pixel, part), src[train], tgt,
                                      seed=data_seed, checkpoint=resume, device=device)
        refined = refiner(src)
        record = {"training": training}
    out = Path(images)
    for row, im in zip(rows, refined, strict=True):
        path = out / refined_name(row)
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(im).save(path)
    write_csv(manifest, [{**{k: r[k] for k in ("path", "label", "rank", "split")},
                          "refined": str(out / refined_name(r)), "style": s}
                         for r, s in zip(rows, styles, strict=True)], REFINED_FIELDS)
    change = np.abs(refined.astype(np.int16) - src.astype(np.int16))
    write_json({"part": part, "side": side, "images": len(rows), "pool_images": len(tgt),
                "seconds": time.perf_counter() - started,
                "mean_abs_change": float(change.mean() / 255), **record}, stats)
    if os.path.exists(resume):
        os.remove(resume)
    log.info("%s: %d source images refined at %d px in %.1f s", part, len(rows), side,
             time.perf_counter() - started)


def extract_refined(manifest: str, backbone: str, onnx: str, npz: str, stats: str, *,
                    part: PixelPart, features: Features) -> None:
    """Stage: backbone features of the refined images, cached under the original source paths
    (feature kind `part`), so a variant reads its source set as any other."""
    rows = read_csv(manifest)
    info = read_json(backbone)
    ex = Extractor(load_backbone(info["path"]), features.engine, onnx)
    feats, out = extract([r["refined"] for r in rows], ex, int(info["image_size"]),
                         features.batch_size, features.parity_tol)
    save_features(npz, feats, [r["path"] for r in rows], "source", part)
    write_json({"engine": features.engine, "part": part, **out}, stats)
