"""Rule figure: figure `{figure}` (module synth2real.report.figures.<figure>) from the summary, as PDF and PNG."""
from importlib import import_module

from synth2real.smk import run

figure = import_module(f"synth2real.report.figures.{snakemake.wildcards.figure}")  # noqa: F821
run(snakemake, figure.make)  # noqa: F821
