"""Rule features_adabn: BatchNorm statistics of the pool (AdaBN), then target features with them."""
from synth2real.adapt.adabn import extract_adabn
from synth2real.smk import run

run(snakemake, extract_adabn)  # noqa: F821
