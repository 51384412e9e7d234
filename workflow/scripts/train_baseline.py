"""Rule train_baseline: heads on the synthetic set of one size, one per seed."""
import os

from synth2real import smk, steps

sm = snakemake  # noqa: F821
i = sm.input
out_dirs = {s: os.path.dirname(h) for s, h in zip(sm.params.seeds, sm.output.heads)}
smk.run(sm, steps.train_baseline, int(sm.wildcards.size), i.source, i.source_npz, i.test,
        i.test_npz, out_dirs)
