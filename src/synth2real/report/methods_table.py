"""The "all methods" table: real-test accuracy (mean, 95% CI) of every variant, its paired
gain over the 1000-per-class baseline and over pseudo-labeling, and the domain gap (PAD).

Percent points throughout; a gain is marked significant (*) only when its paired
95% interval excludes zero.
"""

from __future__ import annotations

from collections.abc import Mapping

from synth2real.config import VARIANT_PSEUDO
from synth2real.report.text import csv_text, percent, write_texts
from synth2real.store import read_json


def rows(summary: Mapping) -> list[dict[str, object]]:
    """One row per variant: test accuracy with its interval, paired gains, pseudo-label quality, PAD."""
    base = summary["baseline"]
    comp = {(c["a"], c["b"]): c for c in summary["comparisons"]}
    out = []
    for name, v in summary["variants"].items():
        t = v["test_acc"]
        ci = t["ci95"] or [None, None]
        row: dict[str, object] = {
            "variant": name,
            "description": v.get("method", {}).get("description", "the published study's variant"),
            "test_mean": percent(t["mean"]), "test_ci_lo": percent(ci[0]), "test_ci_hi": percent(ci[1]),
            "val_mean": percent(v["val_acc"]["mean"]),
        }
        for key, other in (("gain_base", base), ("gain_pl", VARIANT_PSEUDO)):
            c = comp.get((name, other))
            lo_hi = (c or {}).get("ci95") or [None, None]
            row[f"{key}_mean"] = percent(c["mean"]) if c else None
            row[f"{key}_ci_lo"], row[f"{key}_ci_hi"] = percent(lo_hi[0]), percent(lo_hi[1])
            row[f"{key}_significant"] = bool(c and c["significant"])
        pl = v.get("pseudo_label", {})
        row["pseudo_label_acc"] = percent(pl["pseudo_label_acc"]["mean"]) if "pseudo_label_acc" in pl else None
        row["ood_accepted"] = pl["ood_accepted"]["mean"] if "ood_accepted" in pl else None
        row["proxy_a_distance"] = v["proxy_a_distance"]["mean"] if "proxy_a_distance" in v else None
        out.append(row)
    return out


def _ci(lo: object, hi: object) -> str:
    return "–" if lo is None else f"[{lo:.2f}, {hi:.2f}]"


def _gain(r: Mapping, key: str, tex: bool = False) -> str:
    m = r[f"{key}_mean"]
    if m is None:
        return "--" if tex else "–"
    star = "*" if r[f"{key}_significant"] else ""
    if tex:
        return f"${m:+.2f}{'^{*}' if star else ''}$ {{\\scriptsize [{r[f'{key}_ci_lo']:+.2f}, {r[f'{key}_ci_hi']:+.2f}]}}"
    return f"{m:+.2f}{star} [{r[f'{key}_ci_lo']:+.2f}, {r[f'{key}_ci_hi']:+.2f}]"


def _opt(x: object, fmt: str, none: str = "–") -> str:
    return none if x is None else format(x, fmt)


def to_csv(summary: Mapping) -> str:
    return csv_text(rows(summary))


def to_markdown(summary: Mapping) -> str:
    base, n = summary["baseline"], len(summary["seeds"])
    head = (f"| variant | test acc (%) | 95% CI | gain vs {base} [95% CI] | gain vs pseudo-label "
            "[95% CI] | pseudo-label acc (%) | OOD accepted | PAD |\n|---|---|---|---|---|---|---|---|\n")
    body = "".join(
        f"| {r['variant']} | {r['test_mean']:.2f} | {_ci(r['test_ci_lo'], r['test_ci_hi'])} "
        f"| {_gain(r, 'gain_base')} | {_gain(r, 'gain_pl')} | {_opt(r['pseudo_label_acc'], '.1f')} "
        f"| {_opt(r['ood_accepted'], '.0f')} | {_opt(r['proxy_a_distance'], '.2f')} |\n"
        for r in rows(summary))
    return (head + body + f"\nReal-test accuracy over {n} seeds (Student-t 95% CI); gains are paired "
            "differences (same seed, same splits) in points, * = interval excludes zero. "
            "PAD = proxy A-distance between source and unlabeled-pool representations "
            "(0 = indistinguishable, 2 = separable). " + summary.get("model_selection", "") + "\n")


def to_latex(summary: Mapping) -> str:
    base = summary["baseline"]
    lines = [
        r"\begin{tabular}{lcccc}",
        r"\toprule",
        (rf"variant & test acc. (\%) [95\% CI] & gain vs \texttt{{{base}}} & gain vs "
         r"\texttt{pseudo-label} & PAD \\"),
        r"\midrule",
    ]
    for r in rows(summary):
        acc = f"${r['test_mean']:.2f}$ {{\\scriptsize {_ci(r['test_ci_lo'], r['test_ci_hi'])}}}"
        lines.append(f"\\texttt{{{r['variant']}}} & {acc} & {_gain(r, 'gain_base', True)} & "
                     f"{_gain(r, 'gain_pl', True)} & {_opt(r['proxy_a_distance'], '.2f', '--')} \\\\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines).replace("–", "--")


def write(summary_json: str, out_csv: str, out_md: str, out_tex: str) -> None:
    """Rule table_methods: the table from `summary_json` as CSV, Markdown and LaTeX."""
    summary = read_json(summary_json)
    write_texts({out_csv: to_csv(summary), out_md: to_markdown(summary), out_tex: to_latex(summary)})
