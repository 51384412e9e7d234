"""Reading a finished run's tables and PDF back against its `results/summary.json`.

Each check takes a run folder (the RUN_DIR of `make reproduce`) and returns every
disagreement as one line (empty: all agree). The expected cells are computed here from
the summary on their own, not through the report package (only the offline notice's
wording is the package's), so a table that prints the wrong number, row or verdict is
caught. Run against an existing run:

    python -m tests.e2e.readback runs/offline
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tests.unit.report.parse import floats, latex_rows, markdown_rows

Summary = Mapping[str, Any]


def summary_of(run: Path) -> dict[str, Any]:
    return json.loads((run / "results" / "summary.json").read_text())


def _pp(x: float, digits: int = 2, sign: bool = False) -> str:
    """A fraction in percent as the tables print it."""
    return format(100 * x, f"{'+' if sign else ''}.{digits}f")


def _nums(*xs: float, digits: int = 2) -> list[float]:
    """The numbers a cell shows for fractions `xs` (percent, rounded as printed)."""
    return [float(_pp(x, digits)) for x in xs]


def _rows(name: str, got: Mapping[str, list[str]], want: list[str]) -> list[str]:
    return [] if list(got) == want else [f"{name}: rows {list(got)}, expected {want}"]


def _cells(where: str, got: list[list[float]], want: list[list[float]]) -> list[str]:
    """One line per column whose numbers differ (columns counted after the row's name)."""
    if len(got) != len(want):
        return [f"{where}: {len(got)} number columns, expected {len(want)}"]
    return [f"{where}, column {i + 1}: shows {g}, summary gives {w}"
            for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w]


def _table(run: Path, name: str) -> str:
    return (run / "paper" / "tables" / name).read_text()


# -- Table I: train / val / test per core variant ------------------------------------------

def results_cells(s: Summary, v: str) -> list[str]:
    """Table I's cells of variant v: mean ± std per split, then the published values."""
    x, rep = s["variants"][v], s["reported"].get(v, {})
    splits = ("train", "val", "test")
    return ([f"{_pp(x[f'{sp}_acc']['mean'])} ± {_pp(x[f'{sp}_acc']['std'])}" for sp in splits]
            + [_pp(rep[f"{sp}_acc"]) if f"{sp}_acc" in rep else "–" for sp in splits])


def results_table_problems(run: Path) -> list[str]:
    """paper/tables/results.{md,tex} (Table I) against the summary, cell by cell."""
    s = summary_of(run)
    want = list(s["core_variants"])
    md, tex = markdown_rows(_table(run, "results.md")), latex_rows(_table(run, "results.tex"))
    out = _rows("results.md", md, want) + _rows("results.tex", tex, want)
    for v in want:
        cells = results_cells(s, v)
        if v in md and md[v][1:] != cells:
            out.append(f"results.md {v}: {md[v][1:]}, expected {cells}")
        tex_cells = ["$" + c.replace(" ± ", r" \pm ") + "$" for c in cells[:3]]
        tex_cells += [c.replace("–", "--") for c in cells[3:]]
        if v in tex and tex[v][1:] != tex_cells:
            out.append(f"results.tex {v}: {tex[v][1:]}, expected {tex_cells}")
    return out


# -- all methods ----------------------------------------------------------------------------

def _order(s: Summary) -> list[str]:
    """Source-only first, then the candidates, target-labeled variants last."""
    target = [v for v, x in s["variants"].items()
              if v == s.get("oracle") or x.get("labels") == "target"]
    src = s["source_only"]
    return [src, *[v for v in s["variants"] if v != src and v not in target], *target]


def _paired(s: Summary, a: str, b: str) -> dict[str, Any] | None:
    """The bootstrap difference a - b of the summary's comparisons (stored either way)."""
    for c in s["comparisons"]:
        if c.get("metric") == "test_acc" and (c["a"], c["b"]) in ((a, b), (b, a)):
            d = c["bootstrap"]
            lo, hi = d["ci95"]
            return (d if c["a"] == a else
                    {"mean": -d["mean"], "ci95": [-hi, -lo], "significant": d["significant"]})
    return None


def methods_numbers(s: Summary, v: str) -> tuple[list[list[float]], bool | None]:
    """The all-methods row of v: numbers per column, and whether Δ is starred (None: no Δ)."""
    x, src = s["variants"][v], s["source_only"]
    t = x["test_acc"]
    cols = [_nums(t["mean"]), _nums(*t["ci95"]), _nums(*t["bootstrap"]["ci95"])]
    d = None if v == src else _paired(s, v, src)
    cols.append([] if d is None else _nums(d["mean"], *d["ci95"]))
    if v == src:
        cols.append([0.0])
    elif v == s.get("oracle"):
        cols.append([100.0])
    else:
        g = s["gap_closure"][v]
        # An unbounded ratio (too many resamples without a gap) has no interval: "–".
        cols.append(_nums(g["mean"], *(g["ci95"] or []), digits=1))
    pad = x.get("proxy_a_distance")
    cols.append([] if pad is None else [float(f"{pad['mean']:.2f}")])
    return cols, (None if d is None else bool(d["significant"]))


def methods_table_problems(run: Path) -> list[str]:
    """paper/tables/methods.md against the summary: rows, every number, the stars."""
    s = summary_of(run)
    md = markdown_rows(_table(run, "methods.md"))
    out = _rows("methods.md", md, _order(s))
    for v in _order(s):
        if v not in md:
            continue
        want, star = methods_numbers(s, v)
        out += _cells(f"methods.md {v}", [floats(c) for c in md[v][1:]], want)
        if star is not None and ("*" in md[v][4]) != star:
            out.append(f"methods.md {v}: Δ cell {md[v][4]!r}, significant={star}")
    return out


# -- claims and model selection -----------------------------------------------------------

def claim_ci(c: Mapping[str, Any]) -> list[float]:
    """The interval a claim's verdict read."""
    return c["effect"]["seed_ci95" if c["interval"] == "seeds" else "ci95"]


def claims_table_problems(run: Path) -> list[str]:
    """paper/tables/claims.md against the summary: pair, effect, interval, verdict."""
    s = summary_of(run)
    md = markdown_rows(_table(run, "claims.md"))
    out = _rows("claims.md", md, [c["text"] for c in s["claims"]])
    for c in s["claims"]:
        row = md.get(c["text"])
        if row is None:
            continue
        if row[1] != f"{c['a']} vs {c['b']}, {c['metric']}":
            out.append(f"claims.md {c['id']}: compares {row[1]!r}")
        out += _cells(f"claims.md {c['id']}", [floats(x) for x in row[2:4]],
                      [_nums(c["effect"]["mean"]), _nums(*(claim_ci(c) or []))])
        if row[4] != f"**{c['verdict']}**":
            out.append(f"claims.md {c['id']}: verdict {row[4]!r}, summary says {c['verdict']!r}")
    return out


def model_selection_table_problems(run: Path) -> list[str]:
    """paper/tables/model_selection.md against the summary: pick, numbers, deploy mark, test-best."""
    s = summary_of(run)
    sel = s["model_selection"]
    text = _table(run, "model_selection.md")
    md = markdown_rows(text)
    out = _rows("model_selection.md", md, list(sel["criteria"]))
    for name, c in sel["criteria"].items():
        row = md.get(name)
        if row is None:
            continue
        if (row[1], row[2]) != (c["reads"], c["variant"]):
            out.append(f"model_selection.md {name}: reads/picks {row[1:3]}, "
                       f"summary {c['reads']!r}/{c['variant']!r}")
        if ("(deployed)" in row[0]) != (name == sel["deploy_criterion"]):
            out.append(f"model_selection.md {name}: deployed mark wrong in {row[0]!r}")
        if ("↑" in row[0]) != c["higher_is_better"]:
            out.append(f"model_selection.md {name}: direction arrow wrong in {row[0]!r}")
        g = c.get("gap_closure")
        # The source-only pick sits at 0 of the gap scale (the summary leaves it null).
        gap = _nums(g["mean"], *(g["ci95"] or []), digits=1) if g else [0.0]
        out += _cells(f"model_selection.md {name}", [floats(x) for x in row[3:]],
                      [_nums(c["test_acc"]["mean"], *c["test_acc"]["ci95"]), gap,
                       _nums(c["regret"]["mean"], *c["regret"]["ci95"])])
    best = sel["test_best"]
    if f"test-best variant, {best['variant']} ({_pp(best['test_acc'])}%)" not in text:
        out.append(f"model_selection.md: caption does not name the test-best {best['variant']} "
                   f"at {_pp(best['test_acc'])}%")
    return out


# -- the labeled-budget track -----------------------------------------------------------------

def budgets_table_problems(run: Path) -> list[str]:
    """paper/tables/budgets.{md,csv} against results/budgets.json: rows, headers, every mean and
    bootstrap interval; nothing to check in a run without the track."""
    path = run / "results" / "budgets.json"
    if not path.is_file():
        return []
    b = json.loads(path.read_text())
    text = _table(run, "budgets.md")
    md = markdown_rows(text)
    out = _rows("budgets.md", md, list(b["methods"]))
    head = [c.strip() for c in text.splitlines()[0].strip("|").split("|")][1:]
    want_head = [f"all ({b['photos_per_class']['all']})" if x == "all" else str(x)
                 for x in b["per_class"]]
    if head != want_head:
        out.append(f"budgets.md: columns {head}, expected {want_head}")
    for m, entry in b["methods"].items():
        if m not in md:
            continue
        want = [_nums(t["mean"], *t["bootstrap"]["ci95"])
                for t in (entry["budgets"][str(x)]["test_acc"] for x in b["per_class"])]
        out += _cells(f"budgets.md {m}", [floats(c) for c in md[m][1:]], want)
    rows = list(csv.DictReader(_table(run, "budgets.csv").splitlines()))
    for r in rows:
        if r["role"] != "method":
            continue
        t = b["methods"][r["method"]]["budgets"][r["per_class"]]["test_acc"]
        got = [round(float(r[k]), 2) for k in ("test_mean", "boot_ci_lo", "boot_ci_hi")]
        if got != _nums(t["mean"], *t["bootstrap"]["ci95"]):
            out.append(f"budgets.csv {r['variant']}: {got}, budgets.json gives "
                       f"{_nums(t['mean'], *t['bootstrap']['ci95'])}")
    n = sum(len(e["budgets"]) for e in b["methods"].values())
    if sum(r["role"] == "method" for r in rows) != n:
        out.append(f"budgets.csv: {sum(r['role'] == 'method' for r in rows)} method rows, "
                   f"expected {n}")
    return out


# -- the PDF --------------------------------------------------------------------------------

def pdf_text(pdf: Path) -> str:
    """The PDF's text in reading layout (pdftotext, poppler-utils), minus signs as '-'."""
    if shutil.which("pdftotext") is None:
        raise RuntimeError("pdftotext not found: install poppler-utils (system-packages.txt)")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout
    return text.replace("\u2212", "-")


def _squash(text: str) -> str:
    # Line breaks, justification and hyphenation move spaces and hyphens, never letters.
    return re.sub(r"[\s\-–—]+", "", text)


def notice_words(cfg: Mapping[str, Any]) -> str:
    """The offline notice's text for a config (plain text, as the PDF shows it)."""
    from synth2real.report.numbers import offline_notice

    return offline_notice(cfg).replace("\\,", " ")


def pdf_problems(run: Path) -> list[str]:
    """paper/main.pdf: the offline notice, Table I, every variant's test mean, each verdict."""
    s = summary_of(run)
    text = pdf_text(run / "paper" / "main.pdf")
    out = []
    if s["offline"]:
        cfg = json.loads((run / "results" / "provenance.json").read_text())["config"]
        if "Offline run — not the published experiment." not in text:
            out.append("PDF: no 'Offline run — not the published experiment.' banner")
        if _squash(notice_words(cfg)) not in _squash(text):
            out.append("PDF: the offline notice's text is missing")
    for v in s["core_variants"]:
        row = r"\s+".join([re.escape(v), *(re.escape(c) for c in results_cells(s, v))])
        if not re.search(rf"^\s*{row}\s*$", text, re.MULTILINE):
            out.append(f"PDF: no Table I row '{v}  {'  '.join(results_cells(s, v))}'")
    for v in _order(s):
        mean = _pp(s["variants"][v]["test_acc"]["mean"])
        if not re.search(rf"^\s*{re.escape(v)}‡?\s+{re.escape(mean)}\s+\[", text, re.MULTILINE):
            out.append(f"PDF: no all-methods row '{v}' with test accuracy {mean}")
    for c in s["claims"]:
        # An effect without an interval (a ratio unbounded at the level) prints a dash.
        lo, hi = (_pp(x, sign=True) for x in claim_ci(c)) if claim_ci(c) else ("", "")
        shown = rf"\[{re.escape(lo)}, {re.escape(hi)}\]" if claim_ci(c) else "–"
        row = (rf"{re.escape(c['a'])} vs {re.escape(c['b'])}\s+"
               rf"{re.escape(_pp(c['effect']['mean'], sign=True))}\s+"
               rf"{shown}\s+{re.escape(c['verdict'])}\s*$")
        # Only spaces between interval and verdict: "reproduced" cannot match "not reproduced".
        if not re.search(row, text, re.MULTILINE):
            out.append(f"PDF: claim {c['id']!r} row without {c['verdict']!r} "
                       f"({_pp(c['effect']['mean'], sign=True)} [{lo}, {hi}])")
    return out + budgets_pdf_problems(run, text)


def budgets_pdf_problems(run: Path, text: str) -> list[str]:
    """The labeled-budget section: present with every method's row of means in a run with the
    track, absent in one without."""
    path = run / "results" / "budgets.json"
    if not path.is_file():
        return ["PDF: a 'Scarce real labels' section in a run without the track"] \
            if "Scarce real labels" in text else []
    b = json.loads(path.read_text())
    out = [] if "Scarce real labels" in text else ["PDF: no 'Scarce real labels' section"]
    for m, entry in b["methods"].items():
        means = [_pp(entry["budgets"][str(x)]["test_acc"]["mean"]) for x in b["per_class"]]
        if not re.search(r"^\s*" + r"\s+".join(map(re.escape, [m, *means])) + r"\s*$", text,
                         re.MULTILINE):
            out.append(f"PDF: no budget-table row '{m}  {'  '.join(means)}'")
    return out


CHECKS: dict[str, Callable[[Path], list[str]]] = {
    "results": results_table_problems, "methods": methods_table_problems,
    "claims": claims_table_problems, "model_selection": model_selection_table_problems,
    "budgets": budgets_table_problems, "pdf": pdf_problems,
}


def main(argv: list[str] | None = None) -> int:
    """Print every check's disagreements for a run folder; exit 1 if any."""
    run = Path((argv or sys.argv[1:])[0])
    bad = 0
    for name, check in CHECKS.items():
        problems = check(run)
        bad += len(problems)
        print(f"{name}: {'ok' if not problems else ''}", *problems, sep="\n  ")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
