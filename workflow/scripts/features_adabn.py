"""Rule features_adabn: BatchNorm statistics of the pool (AdaBN), then target features with them."""
from synth2real import smk, steps

i, o = snakemake.input, snakemake.output  # noqa: F821
smk.run(snakemake, steps.features_adabn, i.pool, i.test, i.info, o.onnx, o.pool_npz,  # noqa: F821
        o.test_npz, o.stats)
