"""Rule real_download: fetch a torchvision real dataset and write it out as image folders."""
from synth2real import smk
from synth2real.data import sources


def step(cfg):
    sources.extract_torchvision(cfg.real.source)


smk.run(snakemake, step)  # noqa: F821
