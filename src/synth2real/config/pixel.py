"""Pixel-level adaptation: settings of the parts that refine the synthetic images themselves
before the backbone sees them (`Source.pixel`).

Every refiner works at the target resolution (the aligned source: each synthetic image first
brought to the pool's typical side, `methods.align`), learns from the synthetic training split
and the unlabeled pool only, and writes refined images to disk; the backbone then computes their
features as for any image set. Protocol, every part: train on refined synthetic images, test on
the real photos as they are (the real -> synthetic direction of CycleGAN / MrGAN is trained, as
their losses need it, but never applied to a test photo).

fda       Fourier Domain Adaptation (Yang & Soatto, CVPR 2020): no training
simgan    SimGAN refiner (Shrivastava et al., CVPR 2017)
cyclegan  CycleGAN (Zhu et al., ICCV 2017), synthetic -> real generator
mrgan     MrGAN's two stages: a CycleGAN synthetic <-> real, then a second one between the
          stage-1-refined synthetic images and the real photos (`MrGan`)
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from synth2real.config.base import Strict

PixelPart = Literal["fda", "simgan", "cyclegan", "mrgan"]
# How the paper names each part.
PIXEL_LABELS: dict[str, str] = {"fda": "FDA", "simgan": "SimGAN", "cyclegan": "CycleGAN",
                                "mrgan": "MrGAN"}


class Fda(Strict):
    # Half-width of the swapped low-frequency window as a share of the image side: frequencies
    # |k_x|, |k_y| < floor(beta * side) take the target's amplitude. FDA's default 0.01 swaps
    # nothing at 32 px (floor(0.32) = 0); 0.09, the largest beta of FDA's paper, swaps a 5 x 5
    # window (|k| <= 2) of the 32 x 32 spectrum: the image's mean colour and coarsest shading.
    beta: float = Field(0.09, gt=0, lt=0.5)


class GanSchedule(Strict):
    """How long a GAN trains: optimiser steps, minibatch size, Adam learning rate, and how
    often its state is checkpointed (training resumes from the last checkpoint)."""

    steps: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    lr: float = Field(2e-4, gt=0)
    checkpoint_every: int = Field(100, ge=1)


class SimGan(Strict):
    # SimGAN (Shrivastava et al., 2017): a fully convolutional ResNet refiner (3x3 conv to
    # `channels` maps, `blocks` ResNet blocks, 1x1 conv to the image), a local adversarial loss
    # (a small ConvNet classifying every receptive-field patch real/refined, losses summed over
    # patches), a self-regularisation L1 loss `reg` x |refined - synthetic|, and a history
    # buffer of refined images (half of each discriminator minibatch from it). The refiner
    # is pretrained on the regularisation alone, then the discriminator alone, before the
    # alternating steps (the paper: 1000 and 200 steps; K_g = 2 refiner steps per
    # discriminator step). The paper gives no lambda for its 32 px tasks; 0.5 is the
    # reference Keras/TensorFlow reimplementations' (carpedm20's reg_scale).
    channels: int = Field(64, ge=1)
    blocks: int = Field(4, ge=1)
    reg: float = Field(0.5, ge=0)
    history: int = Field(512, ge=0)
    pretrain_refiner: int = Field(1000, ge=0)
    pretrain_discriminator: int = Field(200, ge=0)
    refiner_steps: int = Field(2, ge=1)
    schedule: GanSchedule = GanSchedule(steps=10000, batch_size=64, lr=1e-3)


class CycleGan(Strict):
    # CycleGAN (Zhu et al., 2017) at 32 px: ResNet generators (c7s1-ngf, two stride-2 downs,
    # `blocks` residual blocks, two ups, c7s1-3, tanh; the paper's 6 blocks below 256 px),
    # PatchGAN discriminators (C64-C128-C256 at ndf, then a stride-1 8ndf layer and a 1-channel
    # conv), least-squares GAN loss, cycle loss `cycle` (10), identity loss `identity` x cycle
    # (0.5), an image pool of 50 per discriminator, Adam(lr, 0.5, 0.999) with the learning
    # rate constant for the first half of the steps and linearly to 0 over the second.
    ngf: int = Field(64, ge=1)
    ndf: int = Field(64, ge=1)
    blocks: int = Field(6, ge=1)
    cycle: float = Field(10.0, ge=0)
    identity: float = Field(0.5, ge=0)
    pool: int = Field(50, ge=0)
    schedule: GanSchedule = GanSchedule(steps=20000, batch_size=16)


class MrGan(Strict):
    # MrGAN (Learning image classifiers from (limited) real and (abundant) synthetic data):
    # stage 1 a CycleGAN synthetic <-> real; stage 2 a second CycleGAN between the stage-1
    # refined synthetic images and the real photos, its generators starting from stage 1's.
    # The refined image is G2(G1(x)) (stage 1's output quantised to 8 bits, as it is read
    # back from disk between the stages).
    stage1: CycleGan = CycleGan()
    stage2: CycleGan = CycleGan(schedule=GanSchedule(steps=10000, batch_size=16))


class Pixel(Strict):
    """The settings of every pixel-level part (`methods.pixel`); each is used only when a
    variant's `source.pixel` names it. One refiner per study, trained once (seeded by
    `data_seed`), shared by every variant and seed that reads its images."""

    fda: Fda = Fda()
    simgan: SimGan = SimGan()
    cyclegan: CycleGan = CycleGan()
    mrgan: MrGan = MrGan()
