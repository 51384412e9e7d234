"""Rule features: backbone features of one image set, cached for every head."""
from synth2real.model.features import extract_imageset
from synth2real.smk import run

i, o = snakemake.input, snakemake.output  # noqa: F821
run(snakemake, extract_imageset, i.manifest, i.info, i.onnx, o.npz, o.stats)  # noqa: F821
