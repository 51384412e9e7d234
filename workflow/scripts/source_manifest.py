"""Rule source_manifest: the nested train/val manifest of the source (synthetic) images."""
from synth2real import smk, steps

smk.run(snakemake, steps.source_manifest, snakemake.output.csv)  # noqa: F821
