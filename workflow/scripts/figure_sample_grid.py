"""Rule figure_sample_grid: training images per class beside real test images (from the manifests)."""
from synth2real import smk
from synth2real.report import paper

sm = snakemake  # noqa: F821
smk.run(sm, paper.sample_grid, sm.input.source, sm.input.test, sm.output.pdf, sm.output.png)
