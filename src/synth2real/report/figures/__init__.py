"""One module per paper figure, named after the figure.

Each module has `plot(<loaded data>) -> Figure`. Most figures read `summary.json`
alone: rule `figure` calls `make` below with the figure's name; `domain_gap`
(the t-SNE panels), `sample_grid` (the manifests) and `pixel_pairs` (the pixel parts'
refined manifests) have their own `make`.

Every figure is drawn at the width the paper prints it (`print_width`), so a
point of font size here is a point on paper: LaTeX scales a figure by
(printed width / drawn width), and a figure drawn twice as wide as printed
would have its 7 pt labels printed at 3.5 pt. The fonts below are sized for
that print size; tests/unit/report/test_figures_legible.py renders each figure
against the widths in paper/main.tex and fails on print text under its minimum,
overlapping labels, or a legend over an axes' data area.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: figures are files, never windows
import matplotlib.pyplot as plt

# paper/main.tex: a4paper (210 mm) with geometry's margin=2.2cm on both sides.
TEXT_WIDTH_IN = (210 - 2 * 22) / 25.4

# At print size: 7 pt tick labels and legends, 8 pt axis labels and titles (the
# caption beneath is 9 pt).
plt.rcParams.update({
    "font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "xtick.labelsize": 7,
    "ytick.labelsize": 7, "legend.fontsize": 7, "figure.titlesize": 8.5,
    "axes.titlepad": 4, "legend.handlelength": 1.6,
})


def print_width(fraction: float) -> float:
    """Inches of `fraction` x the paper's \\linewidth (main.tex's `width=<fraction>\\linewidth`).

    The saved file is cropped to its content plus 0.1 in on each side
    (`bbox_inches="tight"`), so a figure drawn at this width prints at about
    its own size.
    """
    return fraction * TEXT_WIDTH_IN


def save(fig: plt.Figure, *paths: str | Path) -> None:
    """Write the figure to each path (format from the suffix: .pdf vector, .png 200 dpi)."""
    for p in paths:
        Path(p).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(p, dpi=200, bbox_inches="tight")
    plt.close(fig)


# The figures drawn from the summary alone (rule `figure`): name -> module under here.
SUMMARY_FIGURES = ("accuracy_bars", "confusion_matrices", "pseudo_label_diagnostics",
                   "all_methods", "threshold_sweep")


def make(summary: str, pdf: str, png: str, *, figure: str) -> None:
    """Rule figure: figure `figure` (module `figures.<figure>`) of the summary at `summary`,
    as PDF and PNG."""
    import importlib

    from synth2real.store import read_json

    if figure not in SUMMARY_FIGURES:
        raise ValueError(f"no summary figure {figure!r}; one of {SUMMARY_FIGURES}")
    module = importlib.import_module(f"{__name__}.{figure}")
    save(module.plot(read_json(summary)), pdf, png)
