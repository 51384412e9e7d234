"""The all-methods table: every cell equals its source in the summary, oracle and source-only
rows at the scale's ends, and a run without an oracle or bootstrap loses only what it lacks."""

from __future__ import annotations

import pytest

from synth2real.report import methods_table
from tests.unit.report.fakes import fake_summary
from tests.unit.report.parse import floats, latex_rows, markdown_rows


def r2(x: float) -> float:
    return float(f"{100 * x:.2f}")


def r1(x: float) -> float:
    return float(f"{100 * x:.1f}")


def _paired(summary: dict, a: str, b: str) -> tuple[float, list[float]]:
    """The bootstrap difference a - b as stored (either direction) in the fake's comparisons."""
    for c in summary["comparisons"]:
        if (c["a"], c["b"]) == (a, b):
            return c["bootstrap"]["mean"], c["bootstrap"]["ci95"]
        if (c["a"], c["b"]) == (b, a):
            lo, hi = c["bootstrap"]["ci95"]
            return -c["bootstrap"]["mean"], [-hi, -lo]
    raise KeyError((a, b))


def expected(summary: dict, v: str) -> list[float]:
    """The numbers of variant v's row, in column order, from the summary itself."""
    s, src = summary["variants"][v], summary["source_only"]
    t = s["test_acc"]
    out = [r2(t["mean"]), *map(r2, t["ci95"]), *map(r2, t["bootstrap"]["ci95"])]
    if v != src:
        m, ci = _paired(summary, v, src)
        out += [r2(m), *map(r2, ci)]
    if summary["oracle"]:
        if v == src:
            out.append(0.0)
        elif v == summary["oracle"]:
            out.append(100.0)
        else:
            g = summary["gap_closure"][v]
            out += [r1(g["mean"]), *map(r1, g["ci95"])]
    if "proxy_a_distance" in s:
        out.append(float(f"{s['proxy_a_distance']['mean']:.2f}"))
    return out


@pytest.mark.parametrize("oracle", [True, False])
def test_every_cell_equals_its_source(oracle):
    s = fake_summary(oracle=oracle)
    s["variants"]["pseudo-label"]["proxy_a_distance"] = {"mean": 1.234}
    tex, md = latex_rows(methods_table.to_latex(s)), markdown_rows(methods_table.to_markdown(s))
    assert list(tex) == list(md) == ["synthetic-100", "synthetic-50", "pseudo-label",
                                     *(["oracle"] if oracle else [])]
    for v in tex:
        assert [x for c in tex[v][1:] for x in floats(c)] == expected(s, v), v
        assert [x for c in md[v][1:] for x in floats(c)] == expected(s, v), v
    # The smaller set's difference is stored as (source - smaller): read back negated.
    assert "$-$10.00" in tex["synthetic-50"][4] and "reference" in tex["synthetic-100"][4]
    assert ("gap closed" in methods_table.to_latex(s)) is oracle


def test_oracle_row_is_marked_last_and_not_a_candidate():
    s = fake_summary()
    table = methods_table.to_latex(s)
    assert table.index(r"\texttt{oracle}$^{\ddagger}$") > table.index(r"\texttt{pseudo-label}")
    rows = {r["variant"]: r for r in methods_table.rows(s)}
    assert rows["oracle"]["role"] == "oracle" and rows["oracle"]["labels"] == "target"
    assert rows["synthetic-100"]["role"] == "source-only"
    assert rows["oracle"]["gap_closure_mean"] == 100 and rows["synthetic-100"]["gap_closure_mean"] == 0
    assert "not a candidate" in methods_table.to_markdown(s)


def test_significance_star_follows_the_bootstrap_interval():
    s = fake_summary()
    for c in s["comparisons"]:
        c["bootstrap"]["significant"] = c["a"] == "pseudo-label"
    rows = latex_rows(methods_table.to_latex(s))
    assert "$^{*}$" in rows["pseudo-label"][4] and "$^{*}$" not in rows["oracle"][4]


def test_a_summary_without_evaluation_keys_still_builds():
    s = fake_summary(oracle=False, evaluation=False)
    tex = latex_rows(methods_table.to_latex(s))
    assert tex["synthetic-50"][4] == "--"  # no comparison: no difference, no crash
    assert methods_table.to_csv(s).count("\n") == 4
