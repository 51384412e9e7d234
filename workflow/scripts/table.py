"""Rule table: one of the paper's tables (synth2real.report.tables) from the summary."""
from synth2real.report.tables import write
from synth2real.smk import run

run(snakemake, write)  # noqa: F821
