"""Rule figure_pixel_pairs: per class, training images beside each pixel part's refined copy, as PDF and PNG."""
from synth2real.report.figures.pixel_pairs import make
from synth2real.smk import run

run(snakemake, make)  # noqa: F821
