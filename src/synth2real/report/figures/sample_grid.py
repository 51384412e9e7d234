"""Figure: training (source-domain) images per class next to real target-domain images.

Rows are classes; the left block shows the first training images of the
source manifest, the right block the first images of the real test manifest,
so the figure always shows exactly what this run trained and tested on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from synth2real.data import manifests
from synth2real.report.figures import plt, print_width, save

# Every thumbnail is shown at this side so 32 px and 512 px images line up.
THUMB = 96
WIDTH_IN = print_width(0.9)
# Inches beside the thumbnails: class names on the left, block titles on top.
LEFT_IN, TOP_IN = 0.25, 0.3


def _thumb(path: str) -> np.ndarray:
    with Image.open(path) as im:
        im = im.convert("RGB")
        side = min(im.size)
        left, top = (im.width - side) // 2, (im.height - side) // 2
        return np.asarray(im.crop((left, top, left + side, top + side))
                          .resize((THUMB, THUMB), Image.Resampling.BICUBIC))


def pick(rows: Sequence[dict[str, str]], cls: str, n: int, split: str | None = None) -> list[str]:
    """First `n` image paths of class `cls` (of `split`, if given), in manifest order."""
    out = [r["path"] for r in rows if r["label"] == cls and (split is None or r["split"] == split)]
    if len(out) < n:
        raise ValueError(f"only {len(out)} images of class {cls!r} in the manifest, need {n}")
    return out[:n]


def labels(source_kind: str) -> tuple[str, str]:
    """Titles of the two blocks: what the training images are in this config, and the target."""
    source = ("generated training images" if source_kind == "diffusers"
              else "source training images (stand-in for generated)")
    return source, "real test photos (target)"


def plot(classes: Sequence[str], source_rows: Sequence[dict[str, str]],
         test_rows: Sequence[dict[str, str]], per_class: int, source_label: str,
         target_label: str) -> plt.Figure:
    """Per class, the first `per_class` training images beside the first `per_class` test images."""
    cols = 2 * per_class
    side = min(0.78, (WIDTH_IN - LEFT_IN) / cols)  # inches per thumbnail, across the width
    w, h = LEFT_IN + side * cols, TOP_IN + side * len(classes)
    fig, axes = plt.subplots(len(classes), cols, figsize=(w, h), squeeze=False)
    for i, cls in enumerate(classes):
        paths = pick(source_rows, cls, per_class, "train") + pick(test_rows, cls, per_class)
        for j, (ax, p) in enumerate(zip(axes[i], paths)):
            ax.imshow(_thumb(p))
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_edgecolor("#08519c" if j < per_class else "#e6550d")
                spine.set_linewidth(1.2)
        axes[i][0].set_ylabel(cls)
    fig.subplots_adjust(wspace=0.05, hspace=0.05, left=LEFT_IN / w, right=1, top=1 - TOP_IN / h,
                        bottom=0)
    left_mid = (axes[0][0].get_position().x0 + axes[0][per_class - 1].get_position().x1) / 2
    right_mid = (axes[0][per_class].get_position().x0 + axes[0][-1].get_position().x1) / 2
    y = 1 - 0.45 * TOP_IN / h
    fig.text(left_mid, y, source_label, ha="center", va="center", color="#08519c")
    fig.text(right_mid, y, target_label, ha="center", va="center", color="#e6550d")
    return fig


def make(source: str, real_test: str, pdf: str, png: str, *, classes: list[str],
         source_kind: str, per_class: int = 5) -> None:
    """Rule figure_sample_grid: this figure from the source and real-test manifests as PDF and PNG.

    `source_kind`: `synthetic.source.kind` (names what the training images are).
    """
    fig = plot(classes, manifests.read_csv(source), manifests.read_csv(real_test), per_class,
               *labels(source_kind))
    save(fig, pdf, png)
