"""Rule backbone: verify the weights, export the frozen backbone to ONNX, check parity."""
from synth2real.model.backbone import export_backbone
from synth2real.smk import run

run(snakemake, export_backbone)  # noqa: F821
