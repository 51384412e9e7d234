"""Figure: real-test confusion matrix of each variant, summed over seeds, row-normalised."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from synth2real.report.figures import plt, save
from synth2real.store import read_json


def plot(summary: Mapping) -> plt.Figure:
    """The figure drawn from a loaded `summary.json`."""
    classes = summary["classes"]
    variants = list(summary.get("core_variants", summary["variants"]))
    fig, axes = plt.subplots(1, len(variants), figsize=(3.0 * len(variants), 3.1), squeeze=False)
    for ax, v in zip(axes[0], variants):
        cm = np.array(summary["variants"][v]["confusion"]["total"], dtype=float)
        norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
        ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        for i in range(len(classes)):
            for j in range(len(classes)):
                ax.text(j, i, f"{100 * norm[i, j]:.1f}", ha="center", va="center", fontsize=8,
                        color="white" if norm[i, j] > 0.5 else "black")
        ax.set_xticks(range(len(classes)), classes, fontsize=8)
        ax.set_yticks(range(len(classes)), classes, fontsize=8)
        ax.set_xlabel("predicted", fontsize=8)
        ax.set_title(v, fontsize=9)
    axes[0][0].set_ylabel("true (real test)", fontsize=8)
    fig.suptitle(f"Real-test confusion (%, rows sum to 100; {len(summary['seeds'])} seeds pooled)",
                 fontsize=9)
    fig.tight_layout()
    return fig


def make(summary_json: str, pdf: str, png: str) -> None:
    """Rule figure: this figure from `summary_json` as PDF and PNG."""
    save(plot(read_json(summary_json)), pdf, png)
