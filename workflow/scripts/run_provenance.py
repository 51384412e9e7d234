"""Rule run_provenance: the run's resolved config, git commit and package versions."""
from synth2real.provenance import write_run
from synth2real.smk import run

run(snakemake, write_run)  # noqa: F821
