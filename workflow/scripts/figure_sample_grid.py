"""Rule figure_sample_grid: training images per class beside real test images (from the manifests)."""
from synth2real.report.figures.sample_grid import make
from synth2real.smk import run

i, o = snakemake.input, snakemake.output  # noqa: F821
run(snakemake, make, i.source, i.test, o.pdf, o.png)  # noqa: F821
