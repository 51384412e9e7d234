"""Figure: train / val / real-test accuracy per variant, mean ± std over seeds,
with the published single-run test accuracy marked (the study's bar chart)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from synth2real.report.figures import plt, print_width

SPLITS = [("train", "synthetic train"), ("val", "synthetic val"), ("test", "real test")]
COLORS = ["#9ecae1", "#4292c6", "#08519c"]
WIDTH_IN = print_width(0.72)


def plot(summary: Mapping) -> plt.Figure:
    """The figure drawn from a loaded `summary.json`."""
    variants = list(summary.get("core_variants", summary["variants"]))
    x = np.arange(len(variants))
    width = 0.26
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 2.9), layout="constrained")
    for k, ((split, label), color) in enumerate(zip(SPLITS, COLORS)):
        means = [100 * summary["variants"][v][f"{split}_acc"]["mean"] for v in variants]
        stds = [100 * summary["variants"][v][f"{split}_acc"]["std"] for v in variants]
        bars = ax.bar(x + (k - 1) * width, means, width, yerr=stds, capsize=3, label=label,
                      color=color, edgecolor="black", linewidth=0.4)
        if split == "test":
            ax.bar_label(bars, labels=[f"{m:.1f}" for m in means], padding=2, fontsize=6.5)
    reported = [100 * summary["reported"].get(v, {}).get("test_acc", np.nan) for v in variants]
    ax.scatter(x + width, reported, marker="D", color="#e6550d", zorder=5, s=22,
               label="reported test (published)")
    # Lowest bar bottom over every split, so no bar is cut off by the axis.
    lo = min(100 * (summary["variants"][v][f"{split}_acc"]["mean"]
                    - summary["variants"][v][f"{split}_acc"]["std"])
             for v in variants for split, _ in SPLITS)
    ax.set_ylim(max(0, min(lo, np.nanmin(reported + [100])) - 15), 104)
    ax.set_xticks(x, variants)
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"Accuracy per variant (mean ± std over {len(summary['seeds'])} seeds)")
    # Below the axes: inside, it would cover the lower bars.
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: labels[i].startswith("reported"))
    fig.legend([handles[i] for i in order], [labels[i] for i in order], loc="outside lower center",
               ncol=4, frameon=False, handletextpad=0.4, columnspacing=1.0)
    ax.grid(axis="y", alpha=0.3)
    return fig
