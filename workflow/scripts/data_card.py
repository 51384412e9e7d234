"""Rule data_card: the paper's table of generation settings and counts."""
from synth2real import smk
from synth2real.data import card as data_card

o = snakemake.output  # noqa: F821
smk.run(snakemake, data_card.write_all, snakemake.input[0], o.csv, o.md, o.tex)  # noqa: F821
