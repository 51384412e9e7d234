"""The report's text helpers, written once: TeX escaping, percentages, durations, CSV, files.

Every table (results, methods, data card) and the paper's generated inputs
format and write through these, so a cell reads the same wherever it appears.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

_TEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}


def tex(text: object) -> str:
    """`text` with LaTeX's special characters escaped (for running text and table cells)."""
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in str(text))


def tt(text: object) -> str:
    """`text` escaped and set in typewriter type (names of variants, files, commands)."""
    return f"\\texttt{{{tex(text)}}}"


def percent(x: float | None) -> float | None:
    """A fraction in percent; None (no value) stays None."""
    return None if x is None else 100 * x


def pct(x: float) -> str:
    """A fraction as a percentage with two decimals (the precision of the published table)."""
    return f"{percent(x):.2f}"


def signed(x: float) -> str:
    """A difference in percentage points with an explicit sign (LaTeX minus for negatives)."""
    s = f"{percent(x):+.2f}"
    return s.replace("-", "$-$") if s.startswith("-") else s


def hms(seconds: float) -> str:
    """A duration as h:mm:ss, or m:ss under an hour."""
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def csv_text(rows: Sequence[Mapping[str, object]], fields: Sequence[str] | None = None,
             float_format: str | None = ".4f") -> str:
    """Rows as CSV (columns `fields`, default the first row's keys): floats in `float_format`
    (None: as Python prints them), None as an empty cell."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(fields or rows[0]), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (format(v, float_format) if float_format and isinstance(v, float)
                        else ("" if v is None else v)) for k, v in r.items()})
    return buf.getvalue()


def write_texts(texts: Mapping[str | Path, str]) -> None:
    """Write each path's text, creating folders; each file appears whole or not at all."""
    for path, text in texts.items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(f"{path}.tmp")
        tmp.write_text(text)
        tmp.replace(path)
