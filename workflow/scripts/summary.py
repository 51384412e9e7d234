"""Rule summary: per-seed metrics of every variant -> results/summary.json."""
from synth2real import smk, steps

sm = snakemake  # noqa: F821
metrics = {name: list(files) for name, files in sm.input.items()}
smk.run(sm, steps.summarize, metrics, sm.output.summary, sm.output.provenance)
