"""Rule source_manifest: the nested train/val manifest of the source (synthetic) images."""
from synth2real.data.manifests import source_manifest
from synth2real.smk import run

run(snakemake, source_manifest)  # noqa: F821
