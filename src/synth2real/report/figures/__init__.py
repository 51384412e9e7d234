"""One module per paper figure, named after the figure.

Each module has `plot(<loaded data>) -> Figure` and the rule's entry point
`make(<input paths>, pdf, png, [config values])`, which loads its inputs,
plots and saves both files. Most figures read `summary.json` alone (rule
`figure`); `domain_gap` reads the t-SNE panels, `sample_grid` the manifests.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: figures are files, never windows
import matplotlib.pyplot as plt


def save(fig: plt.Figure, *paths: str | Path) -> None:
    """Write the figure to each path (format from the suffix: .pdf vector, .png 200 dpi)."""
    for p in paths:
        Path(p).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(p, dpi=200, bbox_inches="tight")
    plt.close(fig)
