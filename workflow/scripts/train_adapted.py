"""Rule train_adapted: per seed, a fresh head on synthetic + pseudo-labeled real features."""
from synth2real.adapt.pseudo_label import train_adapted
from synth2real.smk import run

sm = snakemake  # noqa: F821
i, o = sm.input, sm.output
run(sm, train_adapted, i.source, i.source_npz, i.pool, i.pool_npz, i.test, i.test_npz, i.target,
    i.target_npz, i.accepted, i.diagnostics, o.heads, o.metrics, o.provenance)
