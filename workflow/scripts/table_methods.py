"""Rule table_methods: the all-methods table (test acc with CI, paired gains, PAD) as CSV, Markdown, LaTeX."""
from synth2real.report.methods_table import write
from synth2real.smk import run

i, o = snakemake.input, snakemake.output  # noqa: F821
run(snakemake, write, i[0], o.csv, o.md, o.tex)  # noqa: F821
