"""Rule figure_sample_grid: training images per class beside real test images (from the manifests)."""
from synth2real.report.figures.sample_grid import make
from synth2real.smk import run

run(snakemake, make)  # noqa: F821
