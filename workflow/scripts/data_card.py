"""Rule data_card: the paper's table of generation settings and counts."""
from synth2real.report.data_card import write
from synth2real.smk import run

run(snakemake, write)  # noqa: F821
