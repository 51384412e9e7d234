"""Rule table: one of the paper's tables, from the summary alone, as CSV, Markdown and LaTeX.

Each table is a module of renderers (`to_csv`, `to_markdown`, `to_latex` of a loaded
summary), named after the table it produces: `<table>_table`. The labeled-budget table
reads `budgets.json` instead (rule budget_table, `write_budgets`), with the same renderers.
"""

from __future__ import annotations

from types import ModuleType

from synth2real.report import (
    budgets_table,
    claims_table,
    methods_table,
    model_selection_table,
    results_table,
)
from synth2real.report.text import write_texts
from synth2real.store import read_json

# Table name (paper/tables/<name>.*) -> its renderers.
TABLES: dict[str, ModuleType] = {"results": results_table, "methods": methods_table,
                                 "claims": claims_table, "model_selection": model_selection_table}


def write(summary: str, csv: str, md: str, tex: str, *, table: str) -> None:
    """Stage: table `table` of the summary at `summary`, written to `csv`, `md` and `tex`."""
    _write(TABLES[table], read_json(summary), csv, md, tex)


def _write(renderers: ModuleType, loaded: dict, csv: str, md: str, tex: str) -> None:
    write_texts({csv: renderers.to_csv(loaded), md: renderers.to_markdown(loaded),
                 tex: renderers.to_latex(loaded)})


def write_budgets(budgets: str, csv: str, md: str, tex: str) -> None:
    """Stage: the labeled-budget table of `budgets` (results/budgets.json) to `csv`, `md`, `tex`."""
    _write(budgets_table, read_json(budgets), csv, md, tex)
