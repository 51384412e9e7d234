"""Rule export_onnx: the three deployable classifiers to ONNX, parity-checked on the real test set."""
from synth2real.model.export import export_models
from synth2real.smk import run

sm = snakemake  # noqa: F821
i = sm.input
run(sm, export_models, i.backbone, i.test, i.deploy, i.heads, i.test_npz, i.target_backbones,
    {role: sm.output[role] for role in ("baseline", "study", "adapted")}, sm.output.report)
