"""Which run the demo serves when none is named: the newest run that has exported models.

A run is a workflow output root (`runs/<name>/`, or wherever RUN_DIR put it). Its
export step writes `models/card.json` beside the three ONNX files, and the workflow
records the resolved config it ran with in `results/provenance.json`. `make demo`
without CONFIG, RUN_DIR or MODELS serves the run whose models were exported last
(and says which), so it opens the run just made whatever its config was.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

# Relative to a run's root.
CARD = Path("models") / "card.json"
PROVENANCE = Path("results") / "provenance.json"


@dataclass(frozen=True)
class Run:
    """A run with exported models."""

    root: Path
    exported: float  # when models/card.json was written (seconds since the epoch)

    @property
    def models(self) -> Path:
        return self.root / "models"

    def describe(self) -> str:
        when = datetime.fromtimestamp(self.exported).strftime("%Y-%m-%d %H:%M")
        return f"{self.root} (models exported {when})"


def runs_with_models(parent: str | Path) -> list[Run]:
    """The runs directly under `parent` that have exported models, newest export first."""
    parent = Path(parent)
    if not parent.is_dir():
        return []
    found = [Run(d, (d / CARD).stat().st_mtime) for d in parent.iterdir()
             if d.is_dir() and (d / CARD).is_file()]
    return sorted(found, key=lambda r: r.exported, reverse=True)


def newest_run(parent: str | Path) -> Run:
    """The run under `parent` whose models were exported last; FileNotFoundError naming what
    was found under `parent` and how to make or name a run otherwise."""
    parent = Path(parent)
    found = runs_with_models(parent)
    if found:
        return found[0]
    unfinished = sorted(d.name for d in parent.iterdir() if d.is_dir()) if parent.is_dir() else []
    seen = (f"{parent}/ holds {', '.join(unfinished)}, none with {CARD} (an unfinished run?)"
            if unfinished else f"{parent}/ {'is empty' if parent.is_dir() else 'does not exist'}")
    raise FileNotFoundError(
        f"no run with exported models to serve: {seen}. Make one with `make reproduce "
        "CONFIG=config/offline.yaml BUNDLE=<bundle>` (CPU, no network), or name the models: "
        "`make demo CONFIG=<config>` (runs/<its name>/models) or `make demo MODELS=<folder>`")


def recorded_demo_section(run_root: str | Path) -> tuple[dict[str, Any], Path] | None:
    """The `demo:` section of the config the run was made with (its provenance record) and
    that file, or None when the run has no record."""
    path = Path(run_root) / PROVENANCE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except ValueError as e:
        raise ValueError(f"{path}: not valid JSON ({e}); rerun the workflow to rewrite it") from None
    return (record.get("config") or {}).get("demo") or {}, path
