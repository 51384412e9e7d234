"""Figure: what each pixel-level part does to the synthetic images — per class, the same
training images as the backbone sees them without refinement (brought to the target's
resolution) and as each part refined them.

Rows are classes; per example, one column for the original and one per part (in the order
of PARTS), two examples per class side by side. The examples are the first training-split
images of each class by rank (the manifest's fixed order), so the choice never looks at a
result. Every image is shown at its own pixels (nearest neighbour): the original is brought
to the refined image's side by the refiners' own `data.resolution.square`, so each pair
compares like with like. Reads each part's `results/pixel/<part>/refined.csv` (rule
pixel_refine).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from synth2real.config.pixel import PIXEL_LABELS
from synth2real.data.manifests import read_csv
from synth2real.data.resolution import square
from synth2real.predict import load_image
from synth2real.report.figures import plt, print_width, save

# The columns' order: the training-free part first, then the GANs from simplest to MrGAN.
PARTS = ("fda", "simgan", "cyclegan", "mrgan")
WIDTH_IN = print_width(0.9)
# Inches beside the images: class names on the left, column titles on top.
LEFT_IN, TOP_IN = 0.25, 0.22
# Gap between the examples of a row, as a share of one image's width.
GAP = 0.25
# Column titles at 7 pt: the figure's smallest text, legible when printed at full width.
TITLE_PT = 7


def pick(rows: Sequence[dict[str, str]], cls: str, n: int) -> list[str]:
    """Original paths of the first `n` training-split images of class `cls` by rank."""
    train = sorted((r for r in rows if r["label"] == cls and r["split"] == "train"),
                   key=lambda r: int(r["rank"]))
    if len(train) < n:
        raise ValueError(f"only {len(train)} training images of class {cls!r} in the refined "
                         f"manifest, need {n}")
    return [r["path"] for r in train[:n]]


def original(path: str, side: int) -> np.ndarray:
    """The source image at `path` as the refiners took it: at the target's resolution, square,
    `side` px (`data.resolution.square`, the refiners' own resampling)."""
    return square(load_image(path), side)


def refined(path: str) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def ordered(parts: Sequence[str]) -> list[str]:
    """`parts` in the figure's column order (PARTS)."""
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise ValueError(f"no pixel part {unknown}; one of {list(PARTS)}")
    return [p for p in PARTS if p in parts]


def images(tables: dict[str, Sequence[dict[str, str]]], classes: Sequence[str],
           per_class: int) -> dict[str, list[list[np.ndarray]]]:
    """class -> per example [original, refined by each part of `tables` (column order)]."""
    parts = ordered(list(tables))
    refined_of = {p: {r["path"]: r["refined"] for r in tables[p]} for p in parts}
    out = {}
    for cls in classes:
        out[cls] = []
        for path in pick(tables[parts[0]], cls, per_class):
            missing = [p for p in parts if path not in refined_of[p]]
            if missing:
                raise ValueError(f"{path} has no refined copy in the manifest of {missing}: "
                                 f"rerun rule pixel_refine for them")
            ims = [refined(refined_of[p][path]) for p in parts]
            out[cls].append([original(path, ims[0].shape[0]), *ims])
    return out


def plot(shown: dict[str, list[list[np.ndarray]]], parts: Sequence[str]) -> plt.Figure:
    """Rows: classes; per example, the original then each part's refined image (`parts`,
    in the order of the images)."""
    classes = list(shown)
    per_class = len(shown[classes[0]])
    k = 1 + len(parts)  # images per example
    titles = ["original", *(PIXEL_LABELS[p] for p in parts)]
    ratios = [w for e in range(per_class) for w in ([GAP] if e else []) + [1] * k]
    side = min(0.8, (WIDTH_IN - LEFT_IN) / sum(ratios))  # inches per image, across the width
    w, h = LEFT_IN + side * sum(ratios), TOP_IN + side * len(classes)
    fig, axes = plt.subplots(len(classes), len(ratios), figsize=(w, h), squeeze=False,
                             gridspec_kw={"width_ratios": ratios})
    for ax in axes.flat:
        ax.set_axis_off()
    for i, cls in enumerate(classes):
        for e, example in enumerate(shown[cls]):
            first = e * (k + 1)  # the example's first column (after the gap columns before it)
            for j, im in enumerate(example):
                ax = axes[i][first + j]
                ax.set_axis_on()
                ax.imshow(im, interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
                for spine in ax.spines.values():
                    spine.set_edgecolor("#08519c" if j == 0 else "#e6550d")
                    spine.set_linewidth(1.0)
                if i == 0:
                    ax.set_title(titles[j], fontsize=TITLE_PT, pad=2)
        axes[i][0].set_ylabel(cls)
    fig.subplots_adjust(wspace=0.06, hspace=0.06, left=LEFT_IN / w, right=1, top=1 - TOP_IN / h,
                        bottom=0)
    return fig


def make(manifests: list[str], pdf: str, png: str, *, parts: list[str], classes: list[str],
         per_class: int = 2) -> None:
    """Rule figure_pixel_pairs: this figure from each part's refined manifest (`manifests[i]`
    of `parts[i]`) as PDF and PNG."""
    if len(manifests) != len(parts) or not parts:
        raise ValueError(f"one refined manifest per pixel part: {len(parts)} parts {parts}, "
                         f"{len(manifests)} manifests")
    tables = {p: read_csv(m) for p, m in zip(parts, manifests, strict=True)}
    save(plot(images(tables, classes, per_class), ordered(parts)), pdf, png)

