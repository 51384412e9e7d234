"""Rule features_refined: backbone features of one pixel part's refined source images."""
from synth2real.adapt.pixel.refine import extract_refined
from synth2real.smk import run

run(snakemake, extract_refined)  # noqa: F821
