"""Rule figure: figure `{figure}` (module synth2real.report.figures.<figure>) from the summary, as PDF and PNG."""
from importlib import import_module

from synth2real.smk import run

i, o = snakemake.input, snakemake.output  # noqa: F821
figure = import_module(f"synth2real.report.figures.{snakemake.wildcards.figure}")  # noqa: F821
run(snakemake, figure.make, i[0], o.pdf, o.png)  # noqa: F821
