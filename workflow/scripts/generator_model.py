"""Rule generator_model: find (or download, where allowed) the generator's weights once."""
from synth2real import smk
from synth2real.data import generate

smk.run(snakemake, generate.write_model_info, snakemake.output[0])  # noqa: F821
