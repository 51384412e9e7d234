"""Rule train_oracle: the target-supervised upper bound, one head per seed on labeled real photos."""
from synth2real.model.train import train_oracle
from synth2real.smk import run

sm = snakemake  # noqa: F821
i, o = sm.input, sm.output
run(sm, train_oracle, i.target, i.target_npz, i.test, i.test_npz, o.heads, o.metrics, o.provenance)
