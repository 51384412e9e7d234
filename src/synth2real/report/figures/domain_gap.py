"""Figure: the domain gap made visible — joint 2-D t-SNE of source (synthetic train) and
target (unlabeled real pool) features: before adaptation, with the source images changed
before the backbone (at the target's resolution, refined by each pixel part), and after
adaptation; each panel with its proxy A-distance and its Fréchet distance (the FID formula
on MobileNetV2 features, not an FID). Reads `results/domain/tsne.npz` (rule
domain_embedding)."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

import numpy as np

from synth2real.report.figures import plt, print_width, save

# label, 2-D points, domain per point (0 source, 1 target), proxy A-distance, Fréchet distance
Panel = tuple[str, np.ndarray, np.ndarray, float, float]
WIDTH_IN = print_width(0.95)
DOMAINS = ((0, "source (synthetic)", "#e6550d"), (1, "target (real pool)", "#3182bd"))
# Panels per row at most: four keep each panel ~1.5 in wide at print size.
PER_ROW = 4
# What the figure calls "Fréchet" (the paper's caption says it too).
FRECHET_NOTE = "Fréchet: Fréchet distance on MobileNetV2 features (not FID)"


def load(tsne_npz: str) -> list[Panel]:
    """The panels stored in `tsne_npz`, in order (written with their `frechet_<i>`; older
    files without it are not read: rerun rule domain_embedding)."""
    with np.load(tsne_npz) as z:
        if len(z["labels"]) and "frechet_0" not in z:
            raise ValueError(f"{tsne_npz} has no Fréchet distances (written by an older "
                             f"version): rerun rule domain_embedding")
        return [(str(label), z[f"points_{i}"], z[f"domain_{i}"], float(z[f"pad_{i}"]),
                 float(z[f"frechet_{i}"])) for i, label in enumerate(z["labels"])]


def grid(n: int) -> tuple[int, int]:
    """(rows, columns) for `n` panels: at most PER_ROW a row, the rows as even as they go."""
    rows = math.ceil(n / PER_ROW)
    return rows, math.ceil(n / rows)


def frechet_text(d: float) -> str:
    return f"{d:.1f}" if d < 100 else f"{d:.0f}"


def title(label: str, pad: float, frechet: float, width: int) -> str:
    """A panel's title: its label (wrapped at `width` characters), then its distances."""
    return f"{textwrap.fill(label, width)}\nPAD {pad:.2f}, Fréchet {frechet_text(frechet)}"


def plot(panels: Sequence[Panel]) -> plt.Figure:
    """One scatter panel per representation, at most PER_ROW a row, each titled with its
    proxy A-distance and Fréchet distance."""
    rows, cols = grid(len(panels))
    side = min(2.3, WIDTH_IN / cols)  # square panels across the width
    wrap = max(16, round(side * 15.5))  # characters of an 8 pt title across one panel
    lines = max(title(*p[:1], *p[3:], wrap).count("\n") + 1 for p in panels)
    head = 0.14 * lines + 0.08  # inches of title above each panel
    fig, axes = plt.subplots(rows, cols, figsize=(side * cols, rows * (side + head) + 0.45),
                             squeeze=False, layout="constrained")
    for ax, (label, pts, dom, pad, frechet) in zip(axes.flat, panels):
        for d, name, color in DOMAINS:
            sel = dom == d
            ax.scatter(pts[sel, 0], pts[sel, 1], s=2.5, alpha=0.55, color=color, label=name, lw=0)
        ax.set_title(title(label, pad, frechet, wrap))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_box_aspect(1)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    # Below the panels: inside one, it would hide some of its points. The note says what the
    # titles' Fréchet distance is, where the figure is seen without the paper's caption.
    fig.legend(*axes[0][0].get_legend_handles_labels(), loc="outside lower center", ncol=2,
               markerscale=3, frameon=False, title=FRECHET_NOTE, title_fontsize=7)
    return fig


def make(tsne: str, pdf: str, png: str) -> None:
    """Rule figure_domain_gap: this figure from the t-SNE panels in `tsne` as PDF and PNG."""
    save(plot(load(tsne)), pdf, png)
