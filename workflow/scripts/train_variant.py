"""Rule train_variant: every seed of one variant, composed from its parts."""
from synth2real.adapt.engine import train_variant
from synth2real.smk import run

run(snakemake, train_variant)  # noqa: F821
