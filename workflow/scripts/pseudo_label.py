"""Rule pseudo_label: each seed's source model labels the real pool; keep confident labels."""
from synth2real import smk, steps

sm = snakemake  # noqa: F821
seeds = sm.params.seeds
outputs = dict(zip(seeds, zip(sm.output.accepted, sm.output.diagnostics)))
smk.run(sm, steps.pseudo_labels, dict(zip(seeds, sm.input.heads)), sm.input.pool,
        sm.input.pool_npz, outputs)
