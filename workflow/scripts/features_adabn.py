"""Rule features_adabn: BatchNorm statistics of the pool (AdaBN), then target features with them."""
from synth2real.adapt.adabn import extract_adabn
from synth2real.smk import run

i, o = snakemake.input, snakemake.output  # noqa: F821
run(snakemake, extract_adabn, i.pool, i.test, i.target, i.info, o.onnx, o.pool_npz,  # noqa: F821
    o.test_npz, o.target_npz, o.stats)
