"""The model-selection table: per label-free criterion, what it reads, the variant it picks,
that variant's real-test accuracy and gap closure, and its regret against the test-best
variant (all with bootstrap intervals over seeds and test images).

The deploy criterion (`evaluation.deploy_criterion`) is marked. The test-best
variant is found by reading test labels; it is the reference of regret only and
is named in the caption (macro `text/test-best`), never a row. A run without
selection results gets a one-row table saying so.
"""

from __future__ import annotations

from collections.abc import Mapping

from synth2real.report import cells
from synth2real.report.text import csv_text, percent, tex, tt

NONE = "this run has no model-selection results"


def _ci(stat: Mapping | None) -> list:
    return ((stat or {}).get("ci95") or [None, None])


def rows(summary: Mapping) -> list[dict[str, object]]:
    """One row per criterion (summary order), numbers in percent; None where absent."""
    sel = summary.get("model_selection") or {}
    out = []
    for name, c in sel.get("criteria", {}).items():
        t, r = c["test_acc"], c["regret"]
        g = c.get("gap_closure") or cells.gap_closure(summary, c["variant"])
        out.append({
            "criterion": name, "deploy": name == sel.get("deploy_criterion"),
            "reads": c["reads"], "higher_is_better": c["higher_is_better"],
            "description": c["description"], "variant": c["variant"],
            "test_mean": percent(t["mean"]), "test_ci_lo": percent(_ci(t)[0]),
            "test_ci_hi": percent(_ci(t)[1]),
            "gap_closure_mean": percent(g["mean"]) if g else None,
            "gap_closure_ci_lo": percent(_ci(g)[0]), "gap_closure_ci_hi": percent(_ci(g)[1]),
            "regret_mean": percent(r["mean"]), "regret_ci_lo": percent(_ci(r)[0]),
            "regret_ci_hi": percent(_ci(r)[1]),
            "test_best": sel["test_best"]["variant"],
        })
    return out


def row_cells(summary: Mapping, criterion: str) -> dict[str, str]:
    """Displayed cells of one criterion's row (plain text), straight from the summary."""
    c = summary["model_selection"]["criteria"][criterion]
    # A pick of the source-only variant sits at 0 by definition (the summary leaves it null).
    g = c.get("gap_closure") or cells.gap_closure(summary, c["variant"])
    return {
        "test": f"{cells.points(c['test_acc']['mean'])} {cells.interval(c['test_acc'].get('ci95'))}",
        "gap": "–" if g is None else f"{cells.share(g['mean'])} {cells.interval(g.get('ci95'), cells.share)}",
        "regret": f"{cells.points(c['regret']['mean'])} {cells.interval(c['regret'].get('ci95'))}",
    }


def _arrow(higher: bool, latex: bool) -> str:
    if latex:
        return r"$\uparrow$" if higher else r"$\downarrow$"
    return "↑" if higher else "↓"


def to_csv(summary: Mapping) -> str:
    r = rows(summary)
    return csv_text(r) if r else "criterion\n" + NONE + "\n"


def to_markdown(summary: Mapping) -> str:
    sel = summary.get("model_selection")
    if not sel or not sel.get("criteria"):
        return NONE.capitalize() + ".\n"
    gap = cells.has_gap_closure(summary)
    head = ("| criterion | reads | picks | test acc (%) [CI] | "
            + ("gap closed (%) [CI] | " if gap else "") + "regret (pp) [CI] |\n"
            + "|---" * (6 if gap else 5) + "|\n")
    body = ""
    for name, c in sel["criteria"].items():
        k = row_cells(summary, name)
        label = f"**{name}** (deployed)" if name == sel["deploy_criterion"] else name
        body += (f"| {label} {_arrow(c['higher_is_better'], False)} | {c['reads']} | "
                 f"{c['variant']} | {k['test']} | " + (f"{k['gap']} | " if gap else "")
                 + f"{k['regret']} |\n")
    best = sel["test_best"]
    return (head + body + f"\nRegret: test accuracy of the test-best variant, {best['variant']} "
            f"({cells.points(best['test_acc'])}%), minus that of the pick; the test-best variant is "
            "found by reading test labels and is not selectable. ↑/↓: higher/lower score is "
            "better. Intervals: " + cells.INTERVAL_WORDS["bootstrap"] + ", paired.\n")


def to_latex(summary: Mapping) -> str:
    sel = summary.get("model_selection")
    gap = cells.has_gap_closure(summary)
    heads = ["criterion", "reads", "picks", r"test acc.\ (\%)"]
    heads += [r"gap closed (\%)"] if gap else []
    heads += ["regret (pp)"]
    lines = [r"\begin{tabular}{@{}lll" + "c" * (len(heads) - 3) + "@{}}", r"\toprule",
             " & ".join(heads) + r" \\", r"\midrule"]
    if not sel or not sel.get("criteria"):
        lines.append(rf"\multicolumn{{{len(heads)}}}{{c}}{{{NONE}}} \\")
    else:
        for name, c in sel["criteria"].items():
            k = row_cells(summary, name)
            crit = tt(name) + " " + _arrow(c["higher_is_better"], True)
            if name == sel["deploy_criterion"]:
                crit = rf"$\star$\,\textbf{{{crit}}}"
            row = [crit, tex(c["reads"]), tt(c["variant"]), cells.latex_cell(k["test"])]
            row += [cells.latex_cell(k["gap"])] if gap else []
            row += [cells.latex_cell(k["regret"])]
            lines.append(" & ".join(row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)
