"""Figure: real-test confusion matrix of each variant, summed over seeds, row-normalised."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from synth2real.report.figures import plt, print_width

WIDTH_IN = print_width(0.9)


def plot(summary: Mapping) -> plt.Figure:
    """The figure drawn from a loaded `summary.json`."""
    classes = summary["classes"]
    variants = list(summary.get("core_variants", summary["variants"]))
    side = min(2.0, WIDTH_IN / len(variants))  # one square matrix per variant, across the width
    fig, axes = plt.subplots(1, len(variants), figsize=(side * len(variants), side + 0.55),
                             squeeze=False, sharey=True, layout="constrained")
    for ax, v in zip(axes[0], variants):
        cm = np.array(summary["variants"][v]["confusion"]["total"], dtype=float)
        norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
        ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        for i in range(len(classes)):
            for j in range(len(classes)):
                ax.text(j, i, f"{100 * norm[i, j]:.1f}", ha="center", va="center",
                        color="white" if norm[i, j] > 0.5 else "black")
        ax.set_xticks(range(len(classes)), classes)
        ax.set_yticks(range(len(classes)), classes)
        ax.set_xlabel("predicted")
        ax.set_title(v)
    axes[0][0].set_ylabel("true (real test)")
    fig.suptitle(f"Real-test confusion (%, rows sum to 100; {len(summary['seeds'])} seeds pooled)")
    return fig
