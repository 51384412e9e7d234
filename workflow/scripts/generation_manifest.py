"""Rule generation_manifest: all shard records in one per-image manifest."""
from synth2real import smk
from synth2real.data import generate

smk.run(snakemake, generate.merge_manifest, list(snakemake.input), snakemake.output.csv)  # noqa: F821
