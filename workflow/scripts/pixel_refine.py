"""Rule pixel_refine: the synthetic images refined by one pixel-level part, written to disk."""
from synth2real.adapt.pixel.refine import refine
from synth2real.smk import run

run(snakemake, refine)  # noqa: F821
