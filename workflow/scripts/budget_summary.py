"""Rule budget_summary: the labeled-budget track's models (+ references, summary, test labels)
-> results/budgets.json."""
from synth2real.analysis.budgets import summarize
from synth2real.smk import run

run(snakemake, summarize)  # noqa: F821
