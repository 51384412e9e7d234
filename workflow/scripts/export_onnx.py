"""Rule export_onnx: the three deployable classifiers to ONNX, parity-checked on the real test set."""
from synth2real.model.export import export_models
from synth2real.smk import run

run(snakemake, export_models)  # noqa: F821
