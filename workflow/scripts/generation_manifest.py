"""Rule generation_manifest: all shard records in one per-image manifest."""
from synth2real.data.generate.shard import merge_manifest
from synth2real.smk import run

run(snakemake, merge_manifest)  # noqa: F821
