"""Rule summary: per-seed metrics of every variant -> results/summary.json."""
from synth2real.analysis.summary import summarize
from synth2real.smk import run

sm = snakemake  # noqa: F821
run(sm, summarize, {name: list(files) for name, files in sm.input.items()}, sm.output.summary,
    sm.output.provenance)
