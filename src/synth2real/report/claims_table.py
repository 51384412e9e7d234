"""The claims table that opens the results: each claim of the study, the effect this run
reproduced (points, positive = the claimed direction) with the interval its verdict read,
and the verdict, in the summary's own words.

The rule (margin, interval kind) is the config's; the paper's caption quotes it
from the `text/claims-rule` macro. A run without claims gets a one-row table
saying so.
"""

from __future__ import annotations

from collections.abc import Mapping

from synth2real.report import cells
from synth2real.report.text import csv_text, percent, tex, tt

METRIC_WORDS = {"test_acc": "real-test accuracy", "overfit_gap": "train $-$ test gap (smaller)",
                "gap_closure": r"gap closure $-$ the claimed share"}
NONE = "this run judges no claim"


def rows(summary: Mapping) -> list[dict[str, object]]:
    """One row per claim: effect and both intervals in points, the interval read, the verdict."""
    out = []
    for c in summary.get("claims") or []:
        e = c["effect"]
        boot, seed = e.get("ci95") or [None, None], e.get("seed_ci95") or [None, None]
        out.append({"id": c["id"], "claim": c["text"], "a": c["a"], "b": c["b"],
                    "metric": c["metric"], "effect_mean": percent(e["mean"]),
                    "boot_ci_lo": percent(boot[0]), "boot_ci_hi": percent(boot[1]),
                    "seed_ci_lo": percent(seed[0]), "seed_ci_hi": percent(seed[1]),
                    "interval": c["interval"], "margin": percent(c["margin"]),
                    "verdict": c["verdict"], "rule": c["rule"]})
    return out


def row_cells(claim: Mapping) -> dict[str, str]:
    """Displayed cells of one claim (plain text): effect and the interval its verdict read."""
    return {"effect": cells.points(claim["effect"]["mean"], sign=True),
            "ci": cells.interval(cells.claim_ci(claim), sign=True), "verdict": claim["verdict"]}


def to_csv(summary: Mapping) -> str:
    r = rows(summary)
    return csv_text(r) if r else "claim\n" + NONE + "\n"


def to_markdown(summary: Mapping) -> str:
    claims = summary.get("claims") or []
    if not claims:
        return NONE.capitalize() + ".\n"
    kind = cells.interval_kind(summary)
    head = (f"| claim | compares | effect (pp) | {cells.level(summary, kind)} interval ({kind}) "
            "| verdict |\n"
            "|---|---|---|---|---|\n")
    body = "".join(
        f"| {c['text']} | {c['a']} vs {c['b']}, {c['metric']} | {row_cells(c)['effect']} "
        f"| {row_cells(c)['ci']} | **{c['verdict']}** |\n" for c in claims)
    return head + body + f"\n{cells.rule_words(summary)}\n"


def to_latex(summary: Mapping) -> str:
    claims = summary.get("claims") or []
    lines = [r"\begin{tabular}{@{}p{0.36\linewidth}lccl@{}}", r"\toprule",
             r"claim & compares & effect (pp) & "
             + tex(cells.level(summary, cells.interval_kind(summary))) + r" interval & verdict \\",
             r"\midrule"]
    for c in claims:
        k = row_cells(c)
        # Two lines in one cell: the pair, then the metric.
        compares = (rf"\begin{{tabular}}[t]{{@{{}}l@{{}}}}{tt(c['a'])} vs {tt(c['b'])}\\ "
                    f"{METRIC_WORDS.get(c['metric'], tex(c['metric']))}\\end{{tabular}}")
        lines.append(f"{tex(c['text'])} & {compares} & "
                     f"{cells.latex_cell(k['effect'])} & {cells.latex_cell(k['ci'])} & "
                     f"\\textbf{{{tex(k['verdict'])}}} \\\\")
    if not claims:
        lines.append(rf"\multicolumn{{5}}{{c}}{{{NONE}}} \\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)
