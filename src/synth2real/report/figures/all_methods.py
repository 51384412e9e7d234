"""Figure: every variant's real-test accuracy (mean, 95% CI) and its paired gain over the
1000-per-class baseline (95% CI); filled markers = interval excludes zero."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from synth2real.report.figures import plt, save
from synth2real.store import read_json


def plot(summary: Mapping) -> plt.Figure:
    """The figure drawn from a loaded `summary.json`."""
    base = summary["baseline"]
    comp = {c["a"]: c for c in summary["comparisons"] if c["b"] == base}
    names = list(summary["variants"])
    y = np.arange(len(names))[::-1]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8.6, 0.28 * len(names) + 1.4), sharey=True)
    for yi, n in zip(y, names):
        t = summary["variants"][n]["test_acc"]
        lo, hi = t["ci95"] or (t["mean"], t["mean"])
        color = "#636363" if n in summary.get("core_variants", []) else "#08519c"
        ax1.errorbar(100 * t["mean"], yi, xerr=[[100 * (t["mean"] - lo)], [100 * (hi - t["mean"])]],
                     fmt="o", color=color, capsize=2, ms=4)
        c = comp.get(n)
        if c is not None:
            m, (clo, chi) = c["mean"], (c["ci95"] or (c["mean"], c["mean"]))
            ax2.errorbar(100 * m, yi, xerr=[[100 * (m - clo)], [100 * (chi - m)]], fmt="o",
                         mfc=color if c["significant"] else "white", color=color, capsize=2, ms=4)
    ref = 100 * summary["variants"][base]["test_acc"]["mean"]
    ax1.axvline(ref, color="#e6550d", lw=0.8, ls="--")
    ax2.axvline(0, color="black", lw=0.8)
    ax1.set_yticks(y, names, fontsize=7)
    ax1.set_xlabel("real-test accuracy (%), mean and 95% CI", fontsize=8)
    ax2.set_xlabel(f"paired gain over {base} (points, 95% CI)", fontsize=8)
    for ax in (ax1, ax2):
        ax.grid(axis="x", alpha=0.3)
        ax.tick_params(axis="x", labelsize=7)
    fig.suptitle(f"All methods ({len(summary['seeds'])} seeds; filled = gain interval excludes 0)",
                 fontsize=9)
    fig.tight_layout()
    return fig


def make(summary_json: str, pdf: str, png: str) -> None:
    """Rule figure: this figure from `summary_json` as PDF and PNG."""
    save(plot(read_json(summary_json)), pdf, png)
