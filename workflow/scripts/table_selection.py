"""Rule table_selection: model selection (pick, regret per criterion) as CSV, MD, LaTeX."""
from synth2real.report.selection_table import write
from synth2real.smk import run

i, o = snakemake.input, snakemake.output  # noqa: F821
run(snakemake, write, i[0], o.csv, o.md, o.tex)  # noqa: F821
