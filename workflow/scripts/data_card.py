"""Rule data_card: the paper's table of generation settings and counts."""
from synth2real.report.data_card import write
from synth2real.smk import run

i, o = snakemake.input, snakemake.output  # noqa: F821
run(snakemake, write, i[0], o.csv, o.md, o.tex)  # noqa: F821
