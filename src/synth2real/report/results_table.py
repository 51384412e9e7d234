"""The study's Table I (train / val / test accuracy per variant) in CSV, Markdown and LaTeX.

Each cell is mean ± std over seeds in percent; the published single-run
numbers sit in adjacent columns.
"""

from __future__ import annotations

from collections.abc import Mapping

from synth2real.report.cells import SPLITS
from synth2real.report.text import csv_text, percent


def rows(summary: Mapping) -> list[dict[str, object]]:
    """One row per core variant: mean, std and published accuracy per split, in percent."""
    out = []
    for variant in summary.get("core_variants", list(summary["variants"])):
        v = summary["variants"][variant]
        rep = summary["reported"].get(variant, {})
        row: dict[str, object] = {"variant": variant, "seeds": len(summary["seeds"])}
        for s in SPLITS:
            row[f"{s}_mean"] = percent(v[f"{s}_acc"]["mean"])
            row[f"{s}_std"] = percent(v[f"{s}_acc"]["std"])
            row[f"{s}_reported"] = percent(rep.get(f"{s}_acc"))
        out.append(row)
    return out


def _pm(row: Mapping, split: str) -> str:
    return f"{row[f'{split}_mean']:.2f} ± {row[f'{split}_std']:.2f}"


def _rep(row: Mapping, split: str) -> str:
    v = row[f"{split}_reported"]
    return "–" if v is None else f"{v:.2f}"


def to_csv(summary: Mapping) -> str:
    return csv_text(rows(summary))


def to_markdown(summary: Mapping) -> str:
    n = len(summary["seeds"])
    head = ("| variant | train acc (%) | val acc (%) | test acc, real (%) "
            "| reported train | reported val | reported test |\n|---|---|---|---|---|---|---|\n")
    body = "".join(
        f"| {r['variant']} | {_pm(r, 'train')} | {_pm(r, 'val')} | {_pm(r, 'test')} "
        f"| {_rep(r, 'train')} | {_rep(r, 'val')} | {_rep(r, 'test')} |\n"
        for r in rows(summary)
    )
    return head + body + f"\nMean ± standard deviation over {n} seeds; reported = published single run.\n"


def to_latex(summary: Mapping) -> str:
    lines = [
        r"\begin{tabular}{lccc@{\hspace{1.5em}}ccc}",
        r"\toprule",
        (rf" & \multicolumn{{3}}{{c}}{{this run (mean $\pm$ std, {len(summary['seeds'])} seeds)}}"
         r" & \multicolumn{3}{c}{reported} \\"),
        r"\cmidrule(lr){2-4}\cmidrule(lr){5-7}",
        r"variant & train & val & test (real) & train & val & test \\",
        r"\midrule",
    ]
    for r in rows(summary):
        cells = [f"${r[f'{s}_mean']:.2f} \\pm {r[f'{s}_std']:.2f}$" for s in SPLITS]
        cells += [_rep(r, s).replace("–", "--") for s in SPLITS]
        lines.append(f"\\texttt{{{r['variant']}}} & " + " & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)
