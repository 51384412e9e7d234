"""Rule real_download: fetch a torchvision real dataset and write it out as image folders."""
from synth2real.data.sources import extract_torchvision
from synth2real.smk import run

run(snakemake, extract_torchvision)  # noqa: F821
