"""The "all methods" table: every variant's real-test accuracy with both intervals, its paired
difference to the source-only variant, the share of the source-only -> oracle gap it closes,
and the domain gap (PAD).

Rows run from the source-only variant (gap closure 0) through the candidates to the
oracle (gap closure 1, trained on labeled target images, so never a candidate).
Accuracies and differences in percent (points); a difference is starred only when
its paired bootstrap interval excludes zero. A run without an oracle drops the
gap-closure column and the oracle row.
"""

from __future__ import annotations

from collections.abc import Mapping

from synth2real.config import VARIANT_PSEUDO
from synth2real.report import cells
from synth2real.report.text import csv_text, percent, tex, tt


def _role(summary: Mapping, v: str) -> str:
    if cells.uses_target_labels(summary, v):
        return "oracle"
    return "source-only" if v == cells.source_only(summary) else "candidate"


def rows(summary: Mapping) -> list[dict[str, object]]:
    """One row per variant (table order), numbers in percent; None where a value is absent."""
    src = cells.source_only(summary)
    out = []
    for name in cells.table_order(summary):
        v = summary["variants"][name]
        t = v["test_acc"]
        seed_ci = t.get("ci95") or [None, None]
        boot_ci = cells.bootstrap_ci(t) or [None, None]
        d = cells.paired(summary, name, src) if name != src else None
        d_ci = (d or {}).get("ci95") or [None, None]
        g = cells.gap_closure(summary, name)
        g_ci = (g or {}).get("ci95") or [None, None]
        pl = cells.paired(summary, name, VARIANT_PSEUDO) if name != VARIANT_PSEUDO else None
        pl_ci = (pl or {}).get("ci95") or [None, None]
        lab = v.get("pseudo_label", {})
        out.append({
            "variant": name, "role": _role(summary, name),
            "labels": v.get("labels", "synthetic"),
            "description": v.get("method", {}).get("description", "the published study's variant"),
            "test_mean": percent(t["mean"]),
            "test_seed_ci_lo": percent(seed_ci[0]), "test_seed_ci_hi": percent(seed_ci[1]),
            "test_boot_ci_lo": percent(boot_ci[0]), "test_boot_ci_hi": percent(boot_ci[1]),
            "diff_source_mean": percent(d["mean"]) if d else None,
            "diff_source_ci_lo": percent(d_ci[0]), "diff_source_ci_hi": percent(d_ci[1]),
            "diff_source_significant": bool(d and d["significant"]),
            "gap_closure_mean": percent(g["mean"]) if g else None,
            "gap_closure_ci_lo": percent(g_ci[0]), "gap_closure_ci_hi": percent(g_ci[1]),
            "diff_pseudo_label_mean": percent(pl["mean"]) if pl else None,
            "diff_pseudo_label_ci_lo": percent(pl_ci[0]), "diff_pseudo_label_ci_hi": percent(pl_ci[1]),
            "val_mean": percent(v["val_acc"]["mean"]),
            "pseudo_label_acc": percent(lab["pseudo_label_acc"]["mean"]) if "pseudo_label_acc" in lab else None,
            "proxy_a_distance": v["proxy_a_distance"]["mean"] if "proxy_a_distance" in v else None,
        })
    return out


def row_cells(summary: Mapping, name: str) -> dict[str, str]:
    """The displayed cells of one variant's row (plain text), straight from the summary."""
    v, src = summary["variants"][name], cells.source_only(summary)
    t = v["test_acc"]
    out = {"acc": cells.points(t["mean"]), "seed_ci": cells.interval(t.get("ci95")),
           "boot_ci": cells.interval(cells.bootstrap_ci(t))}
    if name == src:
        out["diff"] = "reference"
    else:
        d = cells.paired(summary, name, src)
        out["diff"] = "–" if d is None else (f"{cells.points(d['mean'], sign=True)}"
                                              f"{'*' if d['significant'] else ''} "
                                              f"{cells.interval(d['ci95'], sign=True)}")
    g = cells.gap_closure(summary, name)
    if name == src or cells.uses_target_labels(summary, name):
        out["gap"] = f"{cells.share(g['mean'])} (end of scale)" if g else "–"
    else:
        out["gap"] = "–" if g is None else f"{cells.share(g['mean'])} {cells.interval(g.get('ci95'), cells.share)}"
    pad = v.get("proxy_a_distance")
    out["pad"] = "–" if pad is None else f"{pad['mean']:.2f}"
    return out


def _columns(summary: Mapping) -> list[tuple[str, str, str]]:
    """(cell key, Markdown header, LaTeX header); gap closure only with an oracle."""
    src, lvl, slvl = cells.source_only(summary), cells.level(summary), cells.level(summary, "seeds")
    cols = [("acc", "test acc (%)", _stack("test acc.", r"(\%)")),
            ("seed_ci", f"{slvl} CI, seeds", _stack(tex(slvl) + " CI,", "seeds")),
            ("boot_ci", f"{lvl} CI, bootstrap", _stack(tex(lvl) + " CI,", "bootstrap")),
            ("diff", f"Δ vs {src} (pp) [bootstrap CI]",
             _stack(rf"$\Delta$ vs {tt(src)}", "(pp) [bootstrap CI]"))]
    if cells.has_gap_closure(summary):
        cols.append(("gap", "gap closed (%) [bootstrap CI]",
                     _stack(r"gap closed (\%)", "[bootstrap CI]")))
    return [*cols, ("pad", "PAD", "PAD")]


def _stack(top: str, bottom: str) -> str:
    """A two-line header cell (keeps the table narrow)."""
    # Braces keep a bottom line that starts with "[" from reading as \\'s optional argument.
    return rf"\begin{{tabular}}[b]{{@{{}}c@{{}}}}{top}\\ {{{bottom}}}\end{{tabular}}"


def to_csv(summary: Mapping) -> str:
    return csv_text(rows(summary))


def _mark(summary: Mapping, name: str) -> str:
    return "‡" if cells.uses_target_labels(summary, name) else ""


def to_markdown(summary: Mapping) -> str:
    cols = _columns(summary)
    head = ("| variant | " + " | ".join(c[1] for c in cols) + " |\n"
            + "|---" * (len(cols) + 1) + "|\n")
    body = "".join(f"| {name}{_mark(summary, name)} | "
                   + " | ".join(row_cells(summary, name)[c[0]] for c in cols) + " |\n"
                   for name in cells.table_order(summary))
    oracle_note = (" ‡ trained on labeled real target images: the upper end of the gap-closure "
                   "scale, not a candidate." if cells.oracle(summary) else "")
    intervals = summary.get("intervals", {})
    return (head + body + f"\nReal-test accuracy over {len(summary['seeds'])} seeds. "
            + intervals.get("seed", "Seed CI: Student-t over training seeds.") + " "
            + intervals.get("bootstrap", "") + " Δ: paired difference (same seeds, same test "
            "images), * = its interval excludes zero. PAD = proxy A-distance between source and "
            "unlabeled-pool representations (0 = indistinguishable, 2 = separable)."
            + oracle_note + " " + summary.get("no_test_labels", "") + "\n")


def to_latex(summary: Mapping) -> str:
    cols = _columns(summary)
    lines = [r"\begin{tabular}{l" + "c" * len(cols) + "}", r"\toprule",
             "variant & " + " & ".join(c[2] for c in cols) + r" \\", r"\midrule"]
    for name in cells.table_order(summary):
        c = row_cells(summary, name)
        if cells.uses_target_labels(summary, name) and lines[-1] != r"\midrule":
            lines.append(r"\midrule")
        label = tt(name) + (r"$^{\ddagger}$" if _mark(summary, name) else "")
        lines.append(label + " & " + " & ".join(_tex_cell(c[k[0]]) for k in cols) + r" \\")
        if name == cells.source_only(summary):
            lines.append(r"\midrule")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)


def _tex_cell(text: str) -> str:
    # A star marks a significant difference; set it as a superscript.
    return cells.latex_cell(text).replace("*", r"$^{*}$")
