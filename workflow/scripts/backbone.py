"""Rule backbone: verify the weights, export the frozen backbone to ONNX, check parity."""
from synth2real import smk, steps

smk.run(snakemake, steps.backbone, snakemake.output.onnx, snakemake.output.info)  # noqa: F821
