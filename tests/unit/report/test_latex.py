"""latexmk build: a PDF from generated inputs; a LaTeX error fails naming only the first error."""

from __future__ import annotations

import shutil

import pytest

from synth2real.report import latex

needs_latex = pytest.mark.skipif(shutil.which("latexmk") is None,
                                 reason="needs latexmk (make system-deps)")


@needs_latex
def test_build_produces_pdf_and_keeps_log(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "doc.tex").write_text(
        "\\documentclass{article}\\begin{document}\\input{tables/n.tex}\\end{document}\n")
    run = tmp_path / "run" / "paper"
    (run / "tables").mkdir(parents=True)
    (run / "tables" / "n.tex").write_text("Accuracy 62.45\\,\\%.\n")
    kept = latex.build(src / "doc.tex", run, run / "doc.pdf")
    assert (run / "doc.pdf").read_bytes()[:5] == b"%PDF-"
    assert kept == run / "build" / "doc.log" and "Output written" in kept.read_text()


@needs_latex
def test_error_fails_with_first_error(tmp_path):
    (tmp_path / "bad.tex").write_text("\\documentclass{article}\\begin{document}\n"
                                      "\\undefinedmacroXYZ\n\\alsoundefined\n\\end{document}\n")
    with pytest.raises(latex.LatexError) as err:
        latex.build(tmp_path / "bad.tex", tmp_path, tmp_path / "bad.pdf")
    msg = str(err.value)
    assert "! Undefined control sequence." in msg and "undefinedmacroXYZ" in msg
    assert "alsoundefined" not in msg  # -halt-on-error: only the first error
    assert (tmp_path / "build" / "bad.log").is_file() and not (tmp_path / "bad.pdf").exists()


def test_first_error_parsing():
    log = ("This is pdfTeX\n(./x.tex\n! LaTeX Error: File `foo.sty' not found.\n\n"
           "Type X to quit\nl.3 \\usepackage\n{foo}\n! second\n")
    lines = latex.first_error(log).splitlines()
    assert lines[0] == "! LaTeX Error: File `foo.sty' not found." and lines[-1] == "l.3 \\usepackage"
    assert latex.first_error("all fine\n") is None


@needs_latex
def test_rule_entry_point_builds_below_the_pdf(tmp_path):
    (tmp_path / "main.tex").write_text("\\documentclass{article}\\begin{document}x\\end{document}\n")
    run = tmp_path / "run" / "paper"
    latex.build_paper(str(tmp_path / "main.tex"), str(run / "main.pdf"), str(run / "build" / "main.log"))
    assert (run / "main.pdf").read_bytes()[:5] == b"%PDF-" and (run / "build" / "main.log").is_file()
