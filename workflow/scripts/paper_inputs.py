"""Rule paper_inputs: every number the paper quotes, as LaTeX macros and small tables."""
from synth2real.report.paper_inputs import write
from synth2real.smk import run

run(snakemake, write)  # noqa: F821
