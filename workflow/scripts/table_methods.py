"""Rule table_methods: all methods (accuracy, both intervals, gap closure) as CSV, MD, LaTeX."""
from synth2real.report.methods_table import write
from synth2real.smk import run

i, o = snakemake.input, snakemake.output  # noqa: F821
run(snakemake, write, i[0], o.csv, o.md, o.tex)  # noqa: F821
