"""Rule train_<job>: every seed of every variant of one training job, composed from their parts."""
from synth2real.adapt.engine import train_variants
from synth2real.smk import run

run(snakemake, train_variants)  # noqa: F821
