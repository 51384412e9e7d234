"""Rule real_manifests: the labeled real test set and the disjoint unlabeled pool."""
from synth2real.data.manifests import real_manifests
from synth2real.smk import run

i, o = snakemake.input, snakemake.output  # noqa: F821
run(snakemake, real_manifests, o.test, o.pool)  # noqa: F821
