"""Rule generation_manifest: all shard records in one per-image manifest."""
from synth2real.data.generate.shard import merge_manifest
from synth2real.smk import run

i, o = snakemake.input, snakemake.output  # noqa: F821
run(snakemake, merge_manifest, list(i.shards), o.csv)  # noqa: F821
