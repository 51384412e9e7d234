"""Rule figure: one paper figure (module synth2real.report.figures.<figure>) as PDF and PNG."""
from synth2real import smk, steps

sm = snakemake  # noqa: F821
smk.run(sm, steps.figure, sm.wildcards.figure, sm.input[0], sm.output.pdf, sm.output.png)
