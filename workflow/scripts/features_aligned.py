"""Rule features_aligned: source features after downsampling to the target's resolution."""
from synth2real import smk, steps

i, o = snakemake.input, snakemake.output  # noqa: F821
smk.run(snakemake, steps.features_aligned, i.source, i.pool, i.info, i.onnx, o.npz, o.stats)  # noqa: F821
