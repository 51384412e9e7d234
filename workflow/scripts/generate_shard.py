"""Rule generate_shard: the missing images of one class x shard, then the shard's records."""
from synth2real.data.generate.shard import run_shard
from synth2real.smk import run

run(snakemake, run_shard)  # noqa: F821
