"""The "all methods" table: real-test accuracy (mean, 95% CI) of every variant, its paired
gain over the 1000-per-class baseline and over pseudo-labeling, and the domain gap (PAD).

Percent points throughout; a gain is marked significant (*) only when its paired
95% interval excludes zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from synth2real.config import VARIANT_PSEUDO
from synth2real.report.tables import csv_text


def _pct(x: float | None) -> float | None:
    return None if x is None else 100 * x


def rows(summary: Mapping) -> list[dict[str, object]]:
    base = summary["baseline"]
    comp = {(c["a"], c["b"]): c for c in summary["comparisons"]}
    out = []
    for name, v in summary["variants"].items():
        t = v["test_acc"]
        ci = t["ci95"] or [None, None]
        row: dict[str, object] = {
            "variant": name,
            "description": v.get("method", {}).get("description", "the published study's variant"),
            "test_mean": _pct(t["mean"]), "test_ci_lo": _pct(ci[0]), "test_ci_hi": _pct(ci[1]),
            "val_mean": _pct(v["val_acc"]["mean"]),
        }
        for key, other in (("gain_base", base), ("gain_pl", VARIANT_PSEUDO)):
            c = comp.get((name, other))
            lo_hi = (c or {}).get("ci95") or [None, None]
            row[f"{key}_mean"] = _pct(c["mean"]) if c else None
            row[f"{key}_ci_lo"], row[f"{key}_ci_hi"] = _pct(lo_hi[0]), _pct(lo_hi[1])
            row[f"{key}_significant"] = bool(c and c["significant"])
        pl = v.get("pseudo_label", {})
        row["pseudo_label_acc"] = _pct(pl["pseudo_label_acc"]["mean"]) if "pseudo_label_acc" in pl else None
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
        rf"variant & test acc. (\%) [95\% CI] & gain vs \texttt{{{base}}} & gain vs "
        r"\texttt{pseudo-label} & PAD \\",
        r"\midrule",
    ]
    for r in rows(summary):
        acc = f"${r['test_mean']:.2f}$ {{\\scriptsize {_ci(r['test_ci_lo'], r['test_ci_hi'])}}}"
        lines.append(f"\\texttt{{{r['variant']}}} & {acc} & {_gain(r, 'gain_base', True)} & "
                     f"{_gain(r, 'gain_pl', True)} & {_opt(r['proxy_a_distance'], '.2f', '--')} \\\\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines).replace("–", "--")


def write_all(summary: Mapping, csv_path: str, md_path: str, tex_path: str) -> None:
    for path, text in ((csv_path, to_csv(summary)), (md_path, to_markdown(summary)),
                       (tex_path, to_latex(summary))):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text)
