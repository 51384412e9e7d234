"""Rule table_results: the study's Table I as CSV, Markdown and LaTeX."""
from synth2real.report.results_table import write
from synth2real.smk import run

i, o = snakemake.input, snakemake.output  # noqa: F821
run(snakemake, write, i[0], o.csv, o.md, o.tex)  # noqa: F821
