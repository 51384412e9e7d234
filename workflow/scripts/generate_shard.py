"""Rule generate_shard: the missing images of one class x shard, then the shard's records."""
from synth2real import smk
from synth2real.data import generate

sm = snakemake  # noqa: F821
smk.run(sm, generate.run_shard, sm.wildcards.cls, int(sm.wildcards.shard), sm.input.model,
        sm.output.csv)
