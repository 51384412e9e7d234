"""Rule features_aligned: source features after downsampling to the target's resolution."""
from synth2real.adapt.align import extract_aligned
from synth2real.smk import run

run(snakemake, extract_aligned)  # noqa: F821
