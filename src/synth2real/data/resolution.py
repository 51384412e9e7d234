"""Images at the target domain's resolution: the data-level alignment's resampling, shared by
the aligned source features (`adapt.align`), the pixel-level refiners (`adapt.pixel`) and the
figure that shows their pairs. Torch-free, so the report stages may use it."""

from __future__ import annotations

import numpy as np
from PIL import Image


def degrade(im: Image.Image, side: int) -> Image.Image:
    """`im` with its shorter side reduced to `side` px (antialiased bilinear); smaller images unchanged."""
    w, h = im.size
    if min(w, h) <= side:
        return im
    scale = side / min(w, h)
    return im.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BILINEAR,
                     reducing_gap=None)


def square(im: Image.Image, side: int) -> np.ndarray:
    """`im` as the refiners take it: `degrade`d (the aligned source's resampling), brought up
    to `side` if smaller, centre-cropped square: uint8 [side, side, 3]."""
    im = degrade(im, side)
    w, h = im.size
    if min(w, h) < side:
        scale = side / min(w, h)
        im = im.resize((max(side, round(w * scale)), max(side, round(h * scale))), Image.BILINEAR)
        w, h = im.size
    left, top = (w - side) // 2, (h - side) // 2
    return np.asarray(im.crop((left, top, left + side, top + side)), dtype=np.uint8)
