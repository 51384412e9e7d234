"""Figure: the pseudo-label threshold sweep — real-test accuracy, pseudo-label accuracy and
the share of out-of-domain pool images accepted, against the confidence threshold."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from synth2real.config.variants import threshold_only
from synth2real.report.figures import plt, print_width

WIDTH_IN = print_width(0.75)


def plot(summary: Mapping) -> plt.Figure:
    """The figure drawn from a loaded `summary.json`: every variant whose only part is
    threshold pseudo-labelling (by its recorded settings, not its name), by threshold."""
    sweep = sorted(((v["method"]["settings"]["pseudo_labels"]["threshold"], v) for v in summary["variants"].values()
                    if "method" in v and threshold_only(v["method"]["settings"])),
                   key=lambda tv: tv[0])
    if not sweep:
        raise ValueError("summary has no threshold-only variants: declare them in methods.variants, "
                         "e.g. threshold-0.7: {pseudo_labels: {kind: threshold, threshold: 0.7}}")
    t = np.array([x for x, _ in sweep])

    def series(get):
        m = np.array([100 * get(v)["mean"] for _, v in sweep])
        ci = [get(v)["ci95"] for _, v in sweep]
        lo = np.array([100 * c[0] if c else np.nan for c in ci])
        hi = np.array([100 * c[1] if c else np.nan for c in ci])
        return m, lo, hi

    fig, ax = plt.subplots(figsize=(WIDTH_IN, 3.3), layout="constrained")
    for label, get, color in (
        ("real-test accuracy", lambda v: v["test_acc"], "#08519c"),
        ("pseudo-label accuracy", lambda v: v["pseudo_label"]["pseudo_label_acc"], "#31a354"),
        ("OOD pool images accepted", lambda v: v["pseudo_label"]["ood_accepted_share"], "#e6550d"),
        ("pool accepted", lambda v: v["pseudo_label"]["accepted_share"], "#969696"),
    ):
        m, lo, hi = series(get)
        ax.plot(t, m, "o-", color=color, label=label, ms=4)
        ax.fill_between(t, lo, hi, color=color, alpha=0.2, lw=0)
    base = summary["variants"].get(summary.get("baseline", ""))
    if base:
        ax.axhline(100 * base["test_acc"]["mean"], color="#08519c", ls="--", lw=0.8,
                   label=f"{summary['baseline']} test accuracy")
    ax.set_xlabel("confidence threshold")
    ax.set_ylabel("%")
    ax.set_xticks(t, [f"{x:g}" for x in t])
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    # Below the axes: inside, the lines cross every corner at some threshold.
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2, frameon=False)
    ax.set_title(f"Threshold sweep (mean, 95% CI over {len(summary['seeds'])} seeds)")
    return fig
