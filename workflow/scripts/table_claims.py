"""Rule table_claims: the claims table (effect, its interval, verdict) as CSV, Markdown, LaTeX."""
from synth2real.report.claims_table import write
from synth2real.smk import run

i, o = snakemake.input, snakemake.output  # noqa: F821
run(snakemake, write, i[0], o.csv, o.md, o.tex)  # noqa: F821
