"""Rule figure_domain_gap: t-SNE of source vs target features before/after adaptation, as PDF and PNG."""
from synth2real.report.figures.domain_gap import make
from synth2real.smk import run

i, o = snakemake.input, snakemake.output  # noqa: F821
run(snakemake, make, i[0], o.pdf, o.png)  # noqa: F821
