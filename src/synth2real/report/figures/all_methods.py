"""Figure: every variant's real-test accuracy with both intervals (left), and the share of the
source-only -> oracle gap it closes (right, bootstrap interval; 0 = source-only, 100 = oracle).

Left: thick bar = 95% interval over seeds, thin whiskers = bootstrap interval over
seeds and test images. Right: filled marker = the paired difference to the
source-only variant has an interval that excludes zero; dotted line = the aim of the
deployed model (70% of the gap). The deployed adapted model is labelled as such. A run without an oracle
has no gap-closure scale: the right panel then shows that paired difference in points. A
model far below the source-only one (a gap closure under GAP_FLOOR, e.g. a refiner that lost
the class) is drawn as an arrow at the floor with its value written beside it, so that it
does not squeeze the scale the other methods are read on.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from synth2real.report import cells
from synth2real.report.figures import plt, print_width

GREY, BLUE, GREEN, ORANGE = "#636363", "#08519c", "#238b45", "#e6550d"
WIDTH_IN = print_width(0.9)
ROW_IN = 0.16  # inches per variant: 7 pt names, and the figure of 31 variants fits a page
# Gap closures below this (%) are marked at it, not drawn to scale.
GAP_FLOOR = -60


def _color(summary: Mapping, name: str) -> str:
    if cells.uses_target_labels(summary, name):
        return GREEN
    return GREY if name in summary.get("core_variants", []) else BLUE


def _whisker(ax: plt.Axes, y: float, mean: float, ci, **kw) -> None:
    lo, hi = ci if ci is not None else (mean, mean)
    ax.errorbar(100 * mean, y, xerr=[[100 * (mean - lo)], [100 * (hi - mean)]], **kw)


def plot(summary: Mapping) -> plt.Figure:
    """The figure drawn from a loaded `summary.json`."""
    names = cells.table_order(summary)
    src, oracle = cells.source_only(summary), cells.oracle(summary)
    scale = cells.has_gap_closure(summary)  # else the right panel shows paired differences
    y = np.arange(len(names))[::-1]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(WIDTH_IN, ROW_IN * len(names) + 1.6),
                                   sharey=True, layout="constrained")
    for yi, n in zip(y, names):
        t, color = summary["variants"][n]["test_acc"], _color(summary, n)
        _whisker(ax1, yi, t["mean"], cells.bootstrap_ci(t), fmt="none", color=color, capsize=1.5,
                 lw=0.7)
        _whisker(ax1, yi, t["mean"], t.get("ci95"), fmt="o", color=color, lw=2.2, ms=3.2)
        if n == src or cells.uses_target_labels(summary, n):
            # The scale's two ends: drawn as reference lines, not as estimates.
            continue
        if scale:
            g = cells.gap_closure(summary, n)
            if g is None:
                continue
            d = cells.paired(summary, n, src)
            filled = bool(d and d["significant"])
            if 100 * g["mean"] < GAP_FLOOR:
                ax2.plot(GAP_FLOOR, yi, marker="<", color=color, ms=4,
                         mfc=color if filled else "white")
                ax2.annotate(f"{100 * g['mean']:.0f}", (GAP_FLOOR, yi), xytext=(5, 0),
                             textcoords="offset points", va="center", fontsize=7, color=color)
                continue
            _whisker(ax2, yi, g["mean"], g.get("ci95"), fmt="o", color=color, capsize=1.5, ms=3.2,
                     lw=0.9, mfc=color if filled else "white")
        else:
            d = cells.paired(summary, n, src)
            if d is not None:
                _whisker(ax2, yi, d["mean"], d["ci95"], fmt="o", color=color, capsize=1.5,
                         ms=3.2, lw=0.9, mfc=color if d["significant"] else "white")
    # One legend entry per reference, each drawn in both panels in the same colour.
    ax1.axvline(100 * summary["variants"][src]["test_acc"]["mean"], color=ORANGE, lw=0.8, ls="--",
                label=f"source-only ({src})" + (", right: 0" if scale else ""))
    if oracle is not None:
        ax1.axvline(100 * summary["variants"][oracle]["test_acc"]["mean"], color=GREEN, lw=0.8,
                    ls="--", label=f"oracle ({oracle}: labeled target)"
                    + (", right: 100" if scale else ""))
    if scale:
        ax2.axvline(0, color=ORANGE, lw=0.8, ls="--")
        ax2.axvline(100, color=GREEN, lw=0.8, ls="--")
        ax2.axvline(100 * cells.GAP_CLOSURE_AIM, color=BLUE, lw=0.8, ls=":")
        left, right = ax2.get_xlim()
        ax2.set_xlim(max(left, GAP_FLOOR - 8), right)  # whiskers reaching past the floor: cut
        ax1.plot([], [], color=BLUE, lw=0.8, ls=":",
                 label=f"right: the aim, {cells.GAP_CLOSURE_AIM:.0%} of the gap")
        ax2.set_xlabel(f"gap closed (%), bootstrap {cells.level(summary)} CI\n"
                       "0 = source-only, 100 = oracle")
    else:
        ax2.axvline(0, color="black", lw=0.8)
        ax2.set_xlabel(f"paired difference to {src} (points)\nbootstrap 95% CI")
    # The deployed adapted model (the deploy criterion's pick) is named as such.
    sel = summary.get("model_selection") or {}
    deployed = (sel.get("criteria") or {}).get(sel.get("deploy_criterion"), {}).get("variant")
    ax1.set_yticks(y, [f"{n} (deployed)" if n == deployed else n for n in names])
    for label in ax1.get_yticklabels():
        if label.get_text().endswith("(deployed)"):
            label.set_fontweight("bold")
    ax1.set_ylim(-0.7, len(names) - 0.3)
    ax1.set_xlabel(f"real-test accuracy (%)\nthick: seed CI, thin: bootstrap CI "
                   f"({cells.level(summary)})")
    for ax in (ax1, ax2):
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(f"All methods ({len(summary['seeds'])} seeds)\nfilled marker: the paired "
                 "difference to source-only excludes 0")
    # Below the panels, where it can hide no marker.
    fig.legend(handles=ax1.get_legend_handles_labels()[0], loc="outside lower center", ncol=2,
               frameon=False)
    return fig
