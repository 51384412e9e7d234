"""Rule export_onnx: baseline + adapted classifiers to ONNX, parity-checked on the real test set."""
from synth2real import smk
from synth2real.model.export import ExportSource, export_models

sm = snakemake  # noqa: F821
sources = [
    ExportSource(role, variant, head, metrics, sm.output[role])
    for (role, variant), head, metrics in zip(sm.params.variants.items(), sm.input.heads,
                                              sm.input.metrics)
]
smk.run(sm, export_models, sm.input.backbone, sm.input.test, sources, sm.output.report)
