"""Figure: real-test accuracy against labeled real photos per class (the labeled-budget track).

One line per method (mean over seeds) with its bootstrap band (seeds and test images), on a
log axis of photos per class, `all` at the number of photos it used; the source-only model,
the zero-label pick and the oracle as horizontal lines, so where the photos-alone curve
meets the zero-label line reads as what the synthetic set is worth; that crossing is marked
with its interval. Drawn from `results/budgets.json` alone (rule figure_budgets).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from synth2real.report.figures import plt, print_width, save
from synth2real.store import read_json

WIDTH_IN = print_width(0.85)
# Reference role -> (legend words, line style, colour).
REFERENCES = {
    "oracle": ("oracle", ":", "#252525"),
    "zero_label": ("zero-label pick", "-.", "#000000"),
    "source_only": ("source-only", "--", "#737373"),
}


def budget_label(b: object, photos: int) -> str:
    """An x tick: the budget, `all` with the photos per class it drew."""
    return f"all\n({photos})" if b == "all" else str(b)


def plot(budgets: Mapping) -> plt.Figure:
    """The figure drawn from a loaded `budgets.json`."""
    per_class, photos = budgets["per_class"], budgets["photos_per_class"]
    x = np.array([photos[str(b)] for b in per_class], dtype=float)
    level = f"{100 * budgets.get('intervals', {}).get('level', 0.95):g}%"
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 3.6), layout="constrained")
    colors = plt.get_cmap("tab10").colors
    for i, (m, entry) in enumerate(budgets["methods"].items()):
        rows = [entry["budgets"][str(b)]["test_acc"] for b in per_class]
        mean = np.array([100 * t["mean"] for t in rows])
        ci = np.array([[100 * c for c in t["bootstrap"]["ci95"]] for t in rows])
        headline = m == budgets.get("real_only")
        ax.plot(x, mean, "o-", color=colors[i % 10], lw=2.0 if headline else 1.2, ms=3.5,
                label=m, zorder=3 if headline else 2)
        ax.fill_between(x, ci[:, 0], ci[:, 1], color=colors[i % 10], alpha=0.15, lw=0)
    for role, (words, ls, color) in REFERENCES.items():
        ref = budgets["references"].get(role)
        if ref:
            name = words if ref["variant"] == words else f"{words}: {ref['variant']}"
            ax.axhline(100 * ref["test_acc"]["mean"], ls=ls, color=color, lw=1.0, label=name,
                       zorder=1)
    w = (budgets.get("worth") or {}).get("zero_label")
    if w and w["photos_per_class"] is not None:
        lo, hi = w["ci95"]
        n, y = w["photos_per_class"], 100 * w["reference_acc"]
        err = [[n - (lo if lo is not None else x[0])], [(hi if hi is not None else x[-1]) - n]]
        ax.errorbar([n], [y], xerr=err, fmt="D", color="#d62728", ms=5, capsize=3, lw=1.2,
                    zorder=4, label=f"{w['method']} meets the pick: {n:.0f} per class")
    ax.set_xscale("log")
    ax.set_xticks(x, [budget_label(b, photos[str(b)]) for b in per_class])
    ax.minorticks_off()
    ax.set_xlim(x[0] / 1.4, x[-1] * 1.4)
    ax.set_xlabel("labeled real photos per class (log scale)")
    ax.set_ylabel("real-test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.set_title(f"Real-test accuracy (mean; band: {level} bootstrap interval)")
    # Below the axes: inside, the curves rise through every corner.
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=3,
               frameon=False)
    return fig


def make(budgets: str, pdf: str, png: str) -> None:
    """Rule figure_budgets: the figure of `results/budgets.json`, as PDF and PNG."""
    save(plot(read_json(budgets)), pdf, png)
