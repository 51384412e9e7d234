"""Rule real_manifests: the real test set, the pool, the labeled target val and oracle splits."""
from synth2real.data.manifests import real_manifests
from synth2real.smk import run

run(snakemake, real_manifests)  # noqa: F821
