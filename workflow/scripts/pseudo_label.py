"""Rule pseudo_label: each seed's source model labels the real pool; keep confident labels."""
from synth2real.adapt.pseudo_label import label_pool
from synth2real.smk import run

sm = snakemake  # noqa: F821
i, o = sm.input, sm.output
run(sm, label_pool, i.heads, i.pool, i.pool_npz, o.accepted, o.diagnostics)
