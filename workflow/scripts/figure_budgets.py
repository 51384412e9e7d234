"""Rule figure_budgets: accuracy vs labeled real photos per class, from budgets.json."""
from synth2real.report.figures.budgets import make
from synth2real.smk import run

run(snakemake, make)  # noqa: F821
