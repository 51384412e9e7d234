"""Rule budget_table: the labeled-budget table (synth2real.report.budgets_table) from budgets.json."""
from synth2real.report.tables import write_budgets
from synth2real.smk import run

run(snakemake, write_budgets)  # noqa: F821
