"""The labeled-budget table: every method's real-test accuracy at every budget of labeled real
photos per class, with its bootstrap interval (seeds and test images, the summary's
resamples), and the three references the budgets are read against.

Rows are the methods of `budgets.methods` (config order), columns the budgets of
`budgets.per_class` (`all` headed with the photos per class it drew). The references --
source-only, the zero-label pick, the oracle -- trained on no photo or on all of them, so
they have no budget column: the Markdown note and the CSV (rows with `role` other than
`method`) give them; the paper's caption quotes them from macros. Drawn from
`results/budgets.json` alone (rule budget_table).
"""

from __future__ import annotations

from collections.abc import Mapping

from synth2real.report import cells
from synth2real.report.text import csv_text, percent, tex, tt

# Reference role -> its words in notes and the CSV `role` column.
REFERENCE_WORDS = {"source_only": "source-only", "zero_label": "zero-label pick",
                   "oracle": "oracle"}


def budget_header(budgets: Mapping, b: object) -> str:
    """A budget's column header: the budget, `all` with its photos per class."""
    return f"all ({budgets['photos_per_class']['all']})" if b == "all" else str(b)


def cell(stat: Mapping) -> dict[str, str]:
    """Mean and bootstrap interval of one accuracy, in percent (plain text)."""
    return {"mean": cells.points(stat["mean"]),
            "ci": cells.interval(cells.bootstrap_ci(stat))}


def _row(role: str, method: str, variant: str, per_class: object, photos: int | None,
         labels: int | None, t: Mapping) -> dict[str, object]:
    seed, boot = t.get("ci95") or [None, None], cells.bootstrap_ci(t) or [None, None]
    return {"role": role, "method": method, "variant": variant, "per_class": per_class,
            "photos_per_class": photos, "real_labels": labels, "test_mean": percent(t["mean"]),
            "test_std": percent(t.get("std")), "seed_ci_lo": percent(seed[0]),
            "seed_ci_hi": percent(seed[1]), "boot_ci_lo": percent(boot[0]),
            "boot_ci_hi": percent(boot[1])}


def rows(budgets: Mapping) -> list[dict[str, object]]:
    """One row per method and budget, then one per reference (numbers in percent)."""
    out = []
    for m, entry in budgets["methods"].items():
        for b in budgets["per_class"]:
            e = entry["budgets"][str(b)]
            out.append(_row("method", m, e["variant"], b, e["photos_per_class"],
                            e["real_labels"], e["test_acc"]))
    for role, ref in budgets["references"].items():
        if ref:
            out.append(_row(REFERENCE_WORDS.get(role, role), "", ref["variant"], None, None,
                            ref.get("real_labels"), ref["test_acc"]))
    return out


def reference_words(budgets: Mapping) -> str:
    """The references in one sentence (plain text), with their accuracies and intervals."""
    parts = []
    for role, ref in budgets["references"].items():
        if ref:
            c = cell(ref["test_acc"])
            labels = ref.get("real_labels")
            trained = "" if labels is None else f", {labels} real labels in training"
            words = REFERENCE_WORDS.get(role, role)
            name = words if ref["variant"] == words else f"{words} {ref['variant']}"
            parts.append(f"{name}{trained}: {c['mean']} {c['ci']}")
    return "References: " + "; ".join(parts) + "." if parts else ""


def to_csv(budgets: Mapping) -> str:
    return csv_text(rows(budgets))


def to_markdown(budgets: Mapping) -> str:
    per_class = budgets["per_class"]
    head = ("| method | " + " | ".join(budget_header(budgets, b) for b in per_class) + " |\n"
            + "|---" * (len(per_class) + 1) + "|\n")
    body = ""
    for m, entry in budgets["methods"].items():
        shown = [cell(entry["budgets"][str(b)]["test_acc"]) for b in per_class]
        body += f"| {m} | " + " | ".join(f"{c['mean']} {c['ci']}" for c in shown) + " |\n"
    level = cells.level(budgets)
    return (head + body + f"\nReal-test accuracy (%) by labeled real photos per class, mean over "
            f"{len(budgets['seeds'])} seeds with its {level} bootstrap interval over seeds and "
            "test images (the summary's resamples); each seed's model draws its own photos. "
            + reference_words(budgets) + "\n")


def _stack(top: str, bottom: str) -> str:
    """A two-line cell: the mean above its interval (keeps the table narrow)."""
    return rf"\begin{{tabular}}[t]{{@{{}}c@{{}}}}{top}\\ {{\scriptsize {bottom}}}\end{{tabular}}"


def to_latex(budgets: Mapping) -> str:
    per_class = budgets["per_class"]
    lines = [r"\begin{tabular}{l" + "c" * len(per_class) + "}", r"\toprule",
             r" & \multicolumn{" + str(len(per_class)) + r"}{c}{labeled real photos per class}"
             r" \\", rf"\cmidrule(l){{2-{len(per_class) + 1}}}",
             "method & " + " & ".join(tex(budget_header(budgets, b)) for b in per_class)
             + r" \\", r"\midrule"]
    for m, entry in budgets["methods"].items():
        shown = [cell(entry["budgets"][str(b)]["test_acc"]) for b in per_class]
        lines.append(tt(m) + " & " + " & ".join(
            _stack(cells.latex_cell(c["mean"]), cells.latex_cell(c["ci"])) for c in shown)
            + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)
