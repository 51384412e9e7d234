"""The report's shared text helpers: TeX escaping, percentages, CSV cells, whole-file writes."""

from __future__ import annotations

from synth2real.report import text


def test_tex_escapes_specials():
    assert text.tex("a_b & 50% #1") == r"a\_b \& 50\% \#1"
    assert text.tt("a_b") == r"\texttt{a\_b}"


def test_percentages():
    assert text.pct(0.6245) == "62.45" and text.percent(None) is None
    assert text.signed(0.1) == "+10.00" and text.signed(-0.19) == "$-$19.00"


def test_csv_cells_and_writes(tmp_path):
    rows = [{"a": 0.5, "b": None, "c": 3}]
    assert text.csv_text(rows) == "a,b,c\n0.5000,,3\n"
    assert text.csv_text(rows, ["a", "b", "c"], float_format=None) == "a,b,c\n0.5,,3\n"
    out = tmp_path / "sub" / "t.md"
    text.write_texts({out: "x\n"})
    assert out.read_text() == "x\n" and list(out.parent.iterdir()) == [out]
