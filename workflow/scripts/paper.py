"""Rule paper: paper/main.pdf with latexmk; a LaTeX error fails the rule showing the log's first error."""
from synth2real import smk
from synth2real.report import latex

sm = snakemake  # noqa: F821
smk.run(sm, latex.build_step, sm.input.tex, sm.output.pdf, sm.log.latex)
