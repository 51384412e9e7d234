"""Rule train_adapted: per seed, a fresh head on synthetic + pseudo-labeled real features."""
import os

from synth2real import smk, steps

sm = snakemake  # noqa: F821
i, seeds = sm.input, sm.params.seeds
pseudo = dict(zip(seeds, zip(i.accepted, i.diagnostics)))
out_dirs = {s: os.path.dirname(h) for s, h in zip(seeds, sm.output.heads)}
smk.run(sm, steps.train_adapted, i.source, i.source_npz, i.pool_npz, i.test, i.test_npz,
        pseudo, out_dirs)
