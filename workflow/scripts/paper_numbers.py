"""Rule paper_numbers: every number the paper quotes, as LaTeX macros and small tables."""
from synth2real.report.paper_numbers import write
from synth2real.smk import run

i, o = snakemake.input, snakemake.output  # noqa: F821
run(snakemake, write, i.summary, i.provenance, i.source, i.test, i.pool, i.target,  # noqa: F821
    o.numbers, o.reported, o.setup, o.runtimes)
