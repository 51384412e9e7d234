"""Rule real_manifests: the labeled real test set and the disjoint unlabeled pool."""
from synth2real import smk, steps

smk.run(snakemake, steps.real_manifests, snakemake.output.test, snakemake.output.pool)  # noqa: F821
