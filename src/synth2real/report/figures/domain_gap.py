"""Figure: the domain gap made visible — joint 2-D t-SNE of source (synthetic train) and
target (unlabeled real pool) features, before and after adaptation, with each panel's
proxy A-distance. Reads `results/domain/tsne.npz` (rule domain_embedding)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from synth2real.report.figures import plt, print_width, save

# label, 2-D points, domain per point (0 source, 1 target), proxy A-distance
Panel = tuple[str, np.ndarray, np.ndarray, float]
WIDTH_IN = print_width(0.95)
DOMAINS = ((0, "source (synthetic)", "#e6550d"), (1, "target (real pool)", "#3182bd"))


def load(tsne_npz: str) -> list[Panel]:
    """The panels stored in `tsne_npz`, in order."""
    with np.load(tsne_npz) as z:
        return [(str(label), z[f"points_{i}"], z[f"domain_{i}"], float(z[f"pad_{i}"]))
                for i, label in enumerate(z["labels"])]


def plot(panels: Sequence[Panel]) -> plt.Figure:
    """One scatter panel per representation, titled with its proxy A-distance."""
    side = min(2.3, WIDTH_IN / len(panels))  # square panels, side by side across the width
    fig, axes = plt.subplots(1, len(panels), figsize=(side * len(panels), side + 0.45),
                             squeeze=False, layout="constrained")
    for ax, (label, pts, dom, pad) in zip(axes[0], panels):
        for d, name, color in DOMAINS:
            sel = dom == d
            ax.scatter(pts[sel, 0], pts[sel, 1], s=2.5, alpha=0.55, color=color, label=name, lw=0)
        ax.set_title(f"{label}\nproxy A-distance {pad:.2f}")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_box_aspect(1)
    # Below the panels: inside one, it would hide some of its points.
    fig.legend(*axes[0][0].get_legend_handles_labels(), loc="outside lower center", ncol=2,
               markerscale=3, frameon=False)
    return fig


def make(tsne: str, pdf: str, png: str) -> None:
    """Rule figure_domain_gap: this figure from the t-SNE panels in `tsne` as PDF and PNG."""
    save(plot(load(tsne)), pdf, png)
