"""Rule figure_domain_gap: t-SNE of source vs target features before/after adaptation."""
from synth2real import smk, steps

sm = snakemake  # noqa: F821
smk.run(sm, steps.figure_domain_gap, sm.input[0], sm.output.pdf, sm.output.png)
