"""Rule budget_draws: every seed's nested draw of labeled oracle photos for the budget track."""
from synth2real.data.budgets import budget_draws
from synth2real.smk import run

run(snakemake, budget_draws)  # noqa: F821
