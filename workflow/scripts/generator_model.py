"""Rule generator_model: find (or download, where allowed) the generator's weights once."""
from synth2real.data.generate.weights import write_model_info
from synth2real.smk import run

i, o = snakemake.input, snakemake.output  # noqa: F821
run(snakemake, write_model_info, o.json)  # noqa: F821
