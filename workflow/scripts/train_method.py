"""Rule train_method: every seed of one adaptation method variant, composed from its parts."""
from synth2real.adapt.variants import train_variant
from synth2real.smk import run

sm = snakemake  # noqa: F821
i, o = sm.input, sm.output
run(sm, train_variant, sm.wildcards.method, i.source, i.source_npz, i.pool, i.pool_npz, i.test,
    i.test_npz, i.target, i.target_npz, o.heads, o.metrics, o.provenance)
