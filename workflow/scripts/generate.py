"""Rule generate_class: synthetic images of one class from the diffusers generator."""
from synth2real import smk
from synth2real.errors import Synth2RealError


def step(cfg):
    raise Synth2RealError(
        "the diffusers generator (synthetic.source.kind: diffusers) is not available yet: "
        "it needs a GPU and cached Stable Diffusion weights. Use a `folder` source "
        "(e.g. config/offline.yaml) until generation is implemented."
    )


smk.run(snakemake, step)  # noqa: F821
