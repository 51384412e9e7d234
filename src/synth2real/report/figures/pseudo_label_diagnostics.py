"""Figure: what pseudo-labelling fed the adapted model, per variant that pseudo-labels.

Left: accepted pool images per predicted class. Right: share of the pool
accepted, accuracy of the accepted labels, and share of the out-of-domain
images that slipped through. Mean ± std over seeds, from `summary.json` only.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from synth2real.report.figures import plt, save
from synth2real.store import read_json

RATES = [("accepted_share", "pool\naccepted"), ("pseudo_label_acc", "pseudo-label\naccuracy"),
         ("ood_accepted_share", "out-of-domain\naccepted")]
COLORS = ["#74c476", "#31a354", "#006d2c", "#a1d99b"]


def plot(summary: Mapping) -> plt.Figure:
    """The figure drawn from a loaded `summary.json`."""
    pl = {v: s["pseudo_label"] for v, s in summary["variants"].items() if "pseudo_label" in s}
    if not pl:
        raise ValueError("no variant in summary.json has pseudo-label diagnostics")
    classes = summary["classes"]
    names = list(pl)
    width = 0.8 / len(names)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(7.6, 3.2), gridspec_kw={"width_ratios": [1, 1.2]})

    x = np.arange(len(classes))
    for k, v in enumerate(names):
        per = pl[v]["accepted_per_class"]
        ax1.bar(x + (k - (len(names) - 1) / 2) * width, [per[c]["mean"] for c in classes], width,
                yerr=[per[c]["std"] for c in classes], capsize=3, label=v,
                color=COLORS[k % len(COLORS)], edgecolor="black", linewidth=0.4)
    ax1.set_xticks(x, classes)
    ax1.set_ylabel("accepted pool images")
    ax1.set_title(f"Accepted per predicted class (threshold {pl[names[0]]['threshold']:g})",
                  fontsize=9)
    ax1.grid(axis="y", alpha=0.3)
    if len(names) > 1:
        ax1.legend(fontsize=7)

    x = np.arange(len(RATES))
    for k, v in enumerate(names):
        means = [100 * pl[v][key]["mean"] if pl[v][key].get("per_seed") else np.nan
                 for key, _ in RATES]
        stds = [100 * pl[v][key]["std"] if pl[v][key].get("per_seed") else 0 for key, _ in RATES]
        bars = ax2.bar(x + (k - (len(names) - 1) / 2) * width, means, width, yerr=stds, capsize=3,
                       label=v, color=COLORS[k % len(COLORS)], edgecolor="black", linewidth=0.4)
        ax2.bar_label(bars, labels=[f"{m:.1f}" for m in means], padding=2, fontsize=7)
    ax2.set_xticks(x, [label for _, label in RATES], fontsize=8)
    ax2.set_ylim(0, 110)
    ax2.set_ylabel("%")
    ax2.set_title(f"Pool acceptance and label quality ({len(summary['seeds'])} seeds)", fontsize=9)
    ax2.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def make(summary_json: str, pdf: str, png: str) -> None:
    """Rule figure: this figure from `summary_json` as PDF and PNG."""
    save(plot(read_json(summary_json)), pdf, png)
