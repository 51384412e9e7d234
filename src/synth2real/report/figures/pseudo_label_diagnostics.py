"""Figure: what pseudo-labelling fed the adapted model, one row per variant that pseudo-labels.

Left: accepted pool images per predicted class (mean ± std over seeds), as a
table of numbers shaded by count, so a class the model over-predicts stands out
in every row. Right: share of the pool accepted, accuracy of the accepted
labels, and share of the out-of-domain pool images that slipped through (mean ±
std over seeds), on one 0-100 % scale. From `summary.json` only.

One row per variant, not one colour per variant: the figure must stay legible
with one pseudo-labelling variant (the study) and with the seventeen of the
methods comparison, and a colour per variant needs a legend that grows with them.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from synth2real.report import cells
from synth2real.report.figures import plt, print_width

# Same colours as the threshold sweep's lines for the same quantities.
RATES = [("accepted_share", "pool accepted", "#636363", "o"),
         ("pseudo_label_acc", "pseudo-label accuracy", "#238b45", "s"),
         ("ood_accepted_share", "out-of-domain accepted", "#e6550d", "^")]
ROW_IN = 0.175  # inches per variant row: 7 pt labels with some air
WIDTH_IN = print_width(0.9)


def _count(stat: Mapping) -> str:
    """'912' or '912±14' (the std over seeds, where there is one to show)."""
    return f"{stat['mean']:.0f}" + (f"±{stat['std']:.0f}" if round(stat["std"]) else "")


def _rate(stat: Mapping) -> tuple[float, float]:
    """(mean, std) in %, NaN when no seed measured it (e.g. no out-of-domain images)."""
    if not stat.get("per_seed"):
        return np.nan, 0.0
    return 100 * stat["mean"], 100 * stat["std"]


def plot(summary: Mapping) -> plt.Figure:
    """The figure drawn from a loaded `summary.json`."""
    names = [v for v in cells.table_order(summary) if "pseudo_label" in summary["variants"][v]]
    names += [v for v, s in summary["variants"].items() if "pseudo_label" in s and v not in names]
    if not names:
        raise ValueError("no variant in summary.json has pseudo-label diagnostics")
    pl = {v: summary["variants"][v]["pseudo_label"] for v in names}
    classes = summary["classes"]
    n = len(names)
    fig, (ax1, ax2) = plt.subplots(
        1, 2, figsize=(WIDTH_IN, ROW_IN * n + 1.25), sharey=True,
        gridspec_kw={"width_ratios": [0.7 * len(classes), 4.2], "wspace": 0.06})
    y = np.arange(n)

    counts = np.array([[pl[v]["accepted_per_class"][c]["mean"] for c in classes] for v in names])
    top = max(float(counts.max()), 1.0)
    ax1.imshow(counts, cmap="Blues", vmin=0, vmax=1.6 * top, aspect="auto")
    for i, v in enumerate(names):
        for j, c in enumerate(classes):
            ax1.text(j, i, _count(pl[v]["accepted_per_class"][c]), ha="center", va="center",
                     fontsize=6.5, color="white" if counts[i, j] > 0.8 * top else "black")
    ax1.set_xticks(range(len(classes)), classes)
    ax1.xaxis.tick_top()
    ax1.tick_params(axis="x", length=0)
    ax1.set_yticks(y, names)
    ax1.set_xlabel("accepted pool images\nper predicted class")
    for side in ax1.spines.values():
        side.set_visible(False)

    # Three markers per row, offset vertically so equal values stay distinguishable.
    for k, (key, label, color, marker) in enumerate(RATES):
        ms = [_rate(pl[v][key]) for v in names]
        ax2.errorbar([m for m, _ in ms], y + (k - 1) * 0.22, xerr=[s for _, s in ms], fmt=marker,
                     color=color, ms=3.6, lw=0.9, capsize=1.5, label=label)
    ax2.set_xlim(0, 100)
    ax2.set_xticks(range(0, 101, 20))
    ax2.set_xlabel(f"% (mean ± std over {len(summary['seeds'])} seeds)")
    ax2.grid(axis="x", alpha=0.3)
    for yi in y[1:]:
        ax2.axhline(yi - 0.5, color="#dddddd", lw=0.5)
    ax2.set_ylim(n - 0.5, -0.5)  # first variant on top, as in the methods table
    ax2.tick_params(axis="y", length=0)
    # Above the panel, never over a marker; two columns filled row by row (matplotlib fills
    # columns first, hence the order).
    handles, labels = ax2.get_legend_handles_labels()
    order = [0, 2, 1]
    ax2.legend([handles[i] for i in order], [labels[i] for i in order], loc="lower center",
               bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False,
               handletextpad=0.3, columnspacing=1.2, borderaxespad=0.2, borderpad=0)
    return fig
