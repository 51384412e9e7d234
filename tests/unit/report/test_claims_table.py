"""The claims table: effect and the interval its verdict read equal the summary, verdict words
are the summary's own, and the caption's rule carries the configured margin and interval."""

from __future__ import annotations

from synth2real.report import cells, claims_table
from tests.unit.report.fakes import fake_summary
from tests.unit.report.parse import floats


def r2(x: float) -> float:
    return float(f"{100 * x:.2f}")


def _body(table: str) -> list[list[str]]:
    body = table.split(r"\midrule", 1)[1].split(r"\bottomrule")[0]
    return [[c.strip() for c in ln.split("&")] for ln in body.strip().splitlines()]


def test_cells_and_verdicts_equal_the_summary():
    s = fake_summary()
    rows = _body(claims_table.to_latex(s))
    assert len(rows) == len(s["claims"]) == 3
    for row, c in zip(rows, s["claims"]):
        assert row[0] == c["text"]
        assert floats(row[2]) == [r2(c["effect"]["mean"])]
        assert floats(row[3]) == [r2(x) for x in c["effect"]["ci95"]]  # bootstrap decides
        assert row[4] == rf"\textbf{{{c['verdict']}}} \\"
    assert {c["verdict"] for c in s["claims"]} == {"reproduced", "not reproduced", "inconclusive"}
    md = claims_table.to_markdown(s)
    for c in s["claims"]:
        assert f"**{c['verdict']}**" in md


def test_seed_interval_when_the_rule_reads_seeds():
    s = fake_summary()
    for c in s["claims"]:
        c["interval"] = "seeds"
    rows = _body(claims_table.to_latex(s))
    assert floats(rows[0][3]) == [r2(x) for x in s["claims"][0]["effect"]["seed_ci95"]]
    assert "Student-t over training seeds" in cells.rule_words(s)


def test_rule_names_margin_and_interval_kind():
    s = fake_summary()
    words = cells.rule_words(s)
    assert "margin of 1 percentage point;" in words and "bootstrap over seeds and test images" in words
    for c in s["claims"]:
        c["margin"] = 0.02
    assert "margin of 2 percentage points" in cells.rule_words(s)


def test_no_claims_gives_a_one_row_table():
    s = fake_summary(evaluation=False)
    assert "this run judges no claim" in claims_table.to_latex(s)
    assert claims_table.to_csv(s) and claims_table.to_markdown(s).startswith("This run judges no")
