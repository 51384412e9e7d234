"""Rule summary: per-seed metrics of every variant (+ test labels) -> results/summary.json."""
from synth2real.analysis.summary import summarize
from synth2real.smk import run

sm = snakemake  # noqa: F821
run(sm, summarize, {v: list(f) for v, f in sm.input.items() if v != "test"}, sm.input.test,
    sm.output.summary, sm.output.provenance)
