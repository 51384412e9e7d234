"""Rule figure_domain_gap: t-SNE of source vs target features before/after adaptation, as PDF and PNG."""
from synth2real.report.figures.domain_gap import make
from synth2real.smk import run

run(snakemake, make)  # noqa: F821
