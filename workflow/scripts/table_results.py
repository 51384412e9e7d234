"""Rule table_results: the study's Table I as CSV, Markdown and LaTeX."""
from synth2real import smk, steps

sm = snakemake  # noqa: F821
smk.run(sm, steps.table_results, sm.input[0], sm.output.csv, sm.output.md, sm.output.tex)
