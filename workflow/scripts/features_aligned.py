"""Rule features_aligned: source features after downsampling to the target's resolution."""
from synth2real.adapt.align import extract_aligned
from synth2real.smk import run

i, o = snakemake.input, snakemake.output  # noqa: F821
run(snakemake, extract_aligned, i.source, i.pool, i.info, i.onnx, o.npz, o.stats)  # noqa: F821
