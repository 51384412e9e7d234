"""Rule features: backbone features of one image set, cached for every head."""
from synth2real import smk, steps

i, o = snakemake.input, snakemake.output  # noqa: F821
smk.run(snakemake, steps.extract_features, i.manifest, i.info, i.onnx, o.npz, o.stats)  # noqa: F821
