"""Rule figure: one of the paper's figures drawn from the summary (synth2real.report.figures)."""
from synth2real.report.figures import make
from synth2real.smk import run

run(snakemake, make)  # noqa: F821
