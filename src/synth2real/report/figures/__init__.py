"""One module per paper figure, named after the figure; each reads `summary.json` only."""

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
