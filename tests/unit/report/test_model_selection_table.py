"""The selection table: per criterion, pick / test accuracy / gap closure / regret equal the
summary; the deploy criterion is marked, and only it."""

from __future__ import annotations

import pytest

from synth2real.report import model_selection_table
from tests.unit.report.fakes import fake_summary
from tests.unit.report.parse import floats, latex_rows, markdown_rows


def r2(x: float) -> float:
    return float(f"{100 * x:.2f}")


def r1(x: float) -> float:
    return float(f"{100 * x:.1f}")


def expected(s: dict, criterion: str) -> list[float]:
    c = s["model_selection"]["criteria"][criterion]
    out = [r2(c["test_acc"]["mean"]), *map(r2, c["test_acc"]["ci95"])]
    if s["oracle"]:
        g = c["gap_closure"]
        # A pick of the source-only variant sits at 0 of the scale (no interval).
        out += [r1(g["mean"]), *map(r1, g["ci95"])] if g else [0.0]
    return out + [r2(c["regret"]["mean"]), *map(r2, c["regret"]["ci95"])]


@pytest.mark.parametrize("oracle", [True, False])
def test_every_cell_equals_its_source(oracle):
    s = fake_summary(oracle=oracle)
    crit = s["model_selection"]["criteria"]
    tex = latex_rows(model_selection_table.to_latex(s))
    md = markdown_rows(model_selection_table.to_markdown(s))
    assert list(tex) == list(md) == list(crit)
    for name, c in crit.items():
        assert tex[name][1] == c["reads"] and tex[name][2] == rf"\texttt{{{c['variant']}}}"
        assert md[name][2] == c["variant"]
        assert [x for cell in tex[name][3:] for x in floats(cell)] == expected(s, name), name
        assert [x for cell in md[name][3:] for x in floats(cell)] == expected(s, name), name


def test_deploy_criterion_is_marked_and_only_it():
    s = fake_summary()
    deploy = s["model_selection"]["deploy_criterion"]
    tex = latex_rows(model_selection_table.to_latex(s))
    assert [n for n, cells in tex.items() if r"$\star$" in cells[0]] == [deploy]
    md = model_selection_table.to_markdown(s)
    deployed = [ln for ln in md.splitlines() if "(deployed)" in ln]
    assert len(deployed) == 1 and deployed[0].startswith(f"| **{deploy}**")
    s["model_selection"]["deploy_criterion"] = "snd"
    tex = latex_rows(model_selection_table.to_latex(s))
    assert [n for n, cells in tex.items() if r"$\star$" in cells[0]] == ["snd"]


def test_regret_is_zero_for_the_test_best_pick():
    s = fake_summary()
    best = s["model_selection"]["test_best"]["variant"]
    rows = {r["criterion"]: r for r in model_selection_table.rows(s)}
    assert rows["target_val_acc"]["variant"] == best and rows["target_val_acc"]["regret_mean"] == 0
    assert all(r["test_best"] == best for r in rows.values())


def test_a_run_without_selection_gets_a_one_row_table():
    s = fake_summary(evaluation=False)
    assert "no model-selection results" in model_selection_table.to_latex(s)
    assert model_selection_table.to_markdown(s).startswith("This run has no")
