"""Rule summary: every model's metrics (+ test labels) -> results/summary.json."""
from synth2real.analysis.summary import summarize
from synth2real.smk import run

run(snakemake, summarize)  # noqa: F821
