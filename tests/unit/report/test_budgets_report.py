"""The labeled-budget track in the report: its table read back cell by cell, its macros and
sentences (the headline, censored or not; the claims with their budgets), main.tex's keys of
the track's section, and rule paper_inputs' switch -- all on the fake track of
tests/unit/analysis/budget_fakes.py, through the stage that writes budgets.json."""

from __future__ import annotations

import json
import shutil

import pytest

from synth2real.report import budgets_table, numbers, tables
from synth2real.report.numbers.budgets import budget_numbers
from tests.e2e import readback
from tests.unit.analysis.budget_fakes import ALL, CURVES, REFS, make_budgets
from tests.unit.report.parse import floats, latex_rows
from tests.unit.report.test_numbers import _keys_in_main_tex

# The track's shapes main.tex must read: the full one; two budgets, two methods, no claims,
# no oracle; no `all` budget; a headline censored at either end.
TRACKS = {
    "full": {},
    "tiny": {"per_class": [1, "all"], "oracle": False, "claims": [],
             "curves": {"real-only": [0.40, 0.90], "bridged": [0.62, 0.90]}},
    "no all": {"per_class": [1, 3, 10], "claims": [],
               "curves": {m: c[:3] for m, c in CURVES.items()}},
    "beyond": {"refs": {**REFS, "zero_label": ("threshold-0.9", 0.97)}},
    "at most": {"refs": {**REFS, "zero_label": ("threshold-0.9", 0.30)}},
}


@pytest.fixture(scope="module")
def budgets(tmp_path_factory):
    return make_budgets(tmp_path_factory.mktemp("track"))


@pytest.fixture
def run(tmp_path, budgets):
    """A run folder with results/budgets.json and the table rule's three files."""
    (tmp_path / "results").mkdir()
    path = tmp_path / "results" / "budgets.json"
    path.write_text(json.dumps(budgets))
    tables.write_budgets(str(path), *(str(tmp_path / "paper" / "tables" / f"budgets.{e}")
                                      for e in ("csv", "md", "tex")))
    return tmp_path


# -- the table ------------------------------------------------------------------------------

def test_the_rule_writes_what_the_renderers_give(run, budgets):
    got = [(run / "paper" / "tables" / f"budgets.{e}").read_text() for e in ("csv", "md", "tex")]
    assert got == [budgets_table.to_csv(budgets), budgets_table.to_markdown(budgets),
                   budgets_table.to_latex(budgets)]


def test_every_cell_reads_back_to_budgets_json(run):
    assert readback.CHECKS["budgets"](run) == []


def test_two_budgets_swapped_are_found(run, budgets):
    """The reader is not vacuous: the 3- and 10-photo columns of real-only exchanged."""
    path = run / "paper" / "tables" / "budgets.md"
    lines = path.read_text().splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith("| real-only |"))
    cells = lines[i].split(" | ")
    cells[2], cells[3] = cells[3], cells[2]
    lines[i] = " | ".join(cells)
    path.write_text("\n".join(lines) + "\n")
    found = readback.CHECKS["budgets"](run)
    assert any("budgets.md real-only, column 2" in p for p in found)


def test_latex_rows_hold_each_means_and_interval(budgets):
    rows = latex_rows(budgets_table.to_latex(budgets))
    assert list(rows) == list(CURVES)
    for m, entry in budgets["methods"].items():
        want = [x for b in budgets["per_class"]
                for t in [entry["budgets"][str(b)]["test_acc"]]
                for x in (round(100 * t["mean"], 2),
                          *(round(100 * c, 2) for c in t["bootstrap"]["ci95"]))]
        assert [x for c in rows[m][1:] for x in floats(c)] == want
    assert f"all ({ALL})" in budgets_table.to_latex(budgets)


def test_the_csv_and_note_give_the_references(budgets):
    text = budgets_table.to_csv(budgets)
    assert "zero-label pick,,threshold-0.9,,,0,65.0000" in text
    assert "oracle,,oracle,,,570,90.0000" in text
    note = budgets_table.to_markdown(budgets)
    assert "zero-label pick threshold-0.9, 0 real labels in training: 65.00 [" in note
    assert "oracle, 570 real labels in training: 90.00" in note


# -- the macros -----------------------------------------------------------------------------

def test_the_headline_and_claims_in_words(budgets):
    n = budget_numbers(budgets)
    assert n["budget/real-only/10/mean"] == "60.00" and n["budget/bridged/all/mean"] == "90.00"
    assert n["budget/worth/zero-label/n"] == "17"  # sqrt(300) = 17.3
    assert n["budget/worth/source-only/n"] == "1.7"
    assert "reaches the zero-label pick \\texttt{threshold-0.9} (65.00\\,\\%) at 17 labeled " \
           "photos per class (95\\,\\% bootstrap interval " in n["text/budget-worth"]
    assert "the synthetic set is worth about 17 labeled real photos per class" \
        in n["text/budget-worth"]
    lo, hi = budgets["worth"]["zero_label"]["ci95"]
    assert f"interval {lo:.1f} to {hi:.0f})" in n["text/budget-worth"]
    assert n["budget-claim/bridged-beats-real-only/verdict"] == "reproduced"
    assert n["budget-claim/bridged-beats-real-only/effect"] == "+19.00"
    assert "mean over 1 and 3 photos per class): +19.00 points" in n["text/budget-claims"]
    assert "mean over 100 photos per class): $-$5.00 points" in n["text/budget-claims"]
    assert "Of the 2 claims judged on the track, 1 reproduced, 1 not reproduced" \
        in n["text/budget-claims"]
    assert f", \\emph{{all}} being the {ALL} photos per class" in n["text/budget-all"]
    assert "read only to choose it" in n["text/budget-references"]


def test_censored_headlines_say_which_way(tmp_path):
    beyond = budget_numbers(make_budgets(tmp_path / "b", **TRACKS["beyond"]))
    assert "Even with all 190 labeled photos per class" in beyond["text/budget-worth"]
    assert "worth more labeled real photos per class than the track has" \
        in beyond["text/budget-worth"]
    assert beyond["budget/worth/zero-label/n"] == "$>$190"
    below = budget_numbers(make_budgets(tmp_path / "a", **TRACKS["at most"]))
    assert "worth at most 1 labeled real photo per class" in below["text/budget-worth"]
    assert below["budget/worth/zero-label/n"] == "$\\le$1"


@pytest.mark.parametrize("track", TRACKS)
def test_every_number_of_the_tracks_section_is_generated(tmp_path, prov, track):
    """main.tex's budget section reads only keys the generator writes, for every track shape
    (a missing key is a LaTeX error in that configuration)."""
    from tests.unit.report.fakes import fake_summary

    n = {**numbers.numbers(fake_summary(), prov, {}, {"test": 30}, "c"),
         **budget_numbers(make_budgets(tmp_path, **TRACKS[track]))}
    missing = _keys_in_main_tex(budgets=True) - set(n)
    assert not missing, f"the budget section quotes keys never written: {sorted(missing)}"


def test_numbers_tex_switches_the_section(budgets):
    assert "\\budgetstrue" in numbers.numbers_tex({}, False, "", budgets=True)
    assert "\\budgetsfalse" in numbers.numbers_tex({}, False, "")


def test_paper_inputs_reads_the_track_only_when_given(tmp_path, prov):
    from tests.unit.report.test_paper_inputs import write_inputs

    (tmp_path / "budgets.json").write_text(json.dumps(make_budgets(tmp_path / "t")))
    for given in (False, True):
        out = write_inputs(tmp_path / str(given), prov,
                           budgets=str(tmp_path / "budgets.json") if given else None)
        text = out[0].read_text()
        assert ("\\budgetstrue" in text) == given and ("\\budgetsfalse" in text) != given
        assert ("\\@namedef{s2r@budget/real-only/10/mean}{60.00}" in text) == given
    shutil.rmtree(tmp_path / "t")


# -- the figure -----------------------------------------------------------------------------

def test_the_figure_puts_each_budget_at_its_photos_and_each_mean_on_its_line(budgets):
    from synth2real.report.figures import budgets as figure

    fig = figure.plot(budgets)
    ax = fig.axes[0]
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    for m, accs in CURVES.items():
        assert list(lines[m].get_xdata()) == [1, 3, 10, 30, 100, ALL]
        assert list(lines[m].get_ydata()) == pytest.approx([100 * a for a in accs])
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "3", "10", "30", "100",
                                                            f"all\n({ALL})"]
    refs = {ln.get_label(): ln.get_ydata()[0] for ln in ax.get_lines()
            if ln.get_label().startswith(("zero-label", "source-only", "oracle"))}
    assert refs == pytest.approx({"zero-label pick: threshold-0.9": 65.0,
                                  "source-only: synthetic-1000": 45.0, "oracle": 90.0})
    crossing = [c for c in ax.containers if "meets the pick" in c.get_label()]
    assert len(crossing) == 1 and "17 per class" in crossing[0].get_label()
