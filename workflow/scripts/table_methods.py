"""Rule table_methods: the all-methods table (test acc with CI, paired gains, PAD) as CSV, Markdown, LaTeX."""
from synth2real import smk, steps

sm = snakemake  # noqa: F821
smk.run(sm, steps.table_methods, sm.input[0], sm.output.csv, sm.output.md, sm.output.tex)
