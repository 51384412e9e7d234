"""Rule features: backbone features of one image set, cached for every head."""
from synth2real.model.features import extract_imageset
from synth2real.smk import run

run(snakemake, extract_imageset)  # noqa: F821
