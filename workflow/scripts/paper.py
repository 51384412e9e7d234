"""Rule paper: paper/main.pdf with latexmk; a LaTeX error fails the rule showing the log's first error."""
from synth2real.report.latex import build_paper
from synth2real.smk import run

run(snakemake, build_paper)  # noqa: F821
