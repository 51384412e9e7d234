"""Rule backbone: verify the weights, export the frozen backbone to ONNX, check parity."""
from synth2real.model.backbone import export_backbone
from synth2real.smk import run

o = snakemake.output  # noqa: F821
run(snakemake, export_backbone, o.onnx, o.info)  # noqa: F821
