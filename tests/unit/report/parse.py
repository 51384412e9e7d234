"""Reading generated tables back: rows of a LaTeX tabular or a Markdown table, numbers in a cell."""

from __future__ import annotations

import re

NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")


def floats(cell: str) -> list[float]:
    """Every number of a cell, LaTeX minus signs read as minus."""
    return [float(x) for x in NUMBER.findall(cell.replace("$-$", "-"))]


def latex_rows(table: str) -> dict[str, list[str]]:
    """Body rows of a booktabs tabular: first cell's \\texttt{name} -> the cells (split on &)."""
    body = table.split(r"\midrule", 1)[1].split(r"\bottomrule")[0]
    out = {}
    for line in body.splitlines():
        m = re.search(r"\\texttt\{([^}]*)\}", line.split("&")[0]) if "&" in line else None
        if m:
            out[m.group(1).replace(r"\_", "_")] = [c.strip() for c in line.rstrip("\\ ").split("&")]
    return out


def markdown_rows(table: str) -> dict[str, list[str]]:
    """Body rows of a Markdown table: first cell's name (bold and marks stripped) -> the cells."""
    lines = [ln for ln in table.splitlines() if ln.startswith("|")][2:]
    out = {}
    for line in lines:
        cells = [c.strip() for c in line.strip("|").split("|")]
        out[re.sub(r"[*‡↑↓]|\(deployed\)", "", cells[0]).strip()] = cells
    return out
