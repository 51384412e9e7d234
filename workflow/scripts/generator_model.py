"""Rule generator_model: find (or download, where allowed) the generator's weights once."""
from synth2real.data.generate.weights import write_model_info
from synth2real.smk import run

run(snakemake, write_model_info)  # noqa: F821
