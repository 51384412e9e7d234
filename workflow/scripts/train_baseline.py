"""Rule train_baseline: heads on the synthetic set of one size, one per seed."""
from synth2real.model.train import train_baseline
from synth2real.smk import run

sm = snakemake  # noqa: F821
i, o = sm.input, sm.output
run(sm, train_baseline, sm.wildcards.size, i.source, i.source_npz, i.test, i.test_npz, i.pool,
    i.pool_npz, i.target, i.target_npz, o.heads, o.metrics, o.provenance)
