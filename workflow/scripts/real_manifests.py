"""Rule real_manifests: the real test set, the unlabeled pool, the labeled target val and oracle splits."""
from synth2real.data.manifests import real_manifests
from synth2real.smk import run

i, o = snakemake.input, snakemake.output  # noqa: F821
run(snakemake, real_manifests, o.test, o.pool, o.target)  # noqa: F821
