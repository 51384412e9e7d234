"""Rule train_method: every seed of one adaptation-method variant (synth2real.adapt.variants)."""
import os

from synth2real import smk, steps

sm = snakemake  # noqa: F821
i = sm.input
out_dirs = {s: os.path.dirname(h) for s, h in zip(sm.params.seeds, sm.output.heads)}
smk.run(sm, steps.train_method, sm.wildcards.method, i.source, i.source_npz, i.pool, i.pool_npz,
        i.test, i.test_npz, out_dirs)
