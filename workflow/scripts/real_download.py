"""Rule real_download: fetch a torchvision real dataset and write it out as image folders."""
from synth2real.data.sources import extract_torchvision
from synth2real.smk import run

i, o = snakemake.input, snakemake.output  # noqa: F821
run(snakemake, extract_torchvision)  # noqa: F821
