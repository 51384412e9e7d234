"""The trained pixel-level refiners: SimGAN, CycleGAN and MrGAN's two CycleGAN stages, small
and deterministic, at the aligned side (32 px; any side divisible by 4 from 8 px works).

    simgan    refiner R (ResNet, fully convolutional), local discriminator (per-patch 2-class
              logits), self-regularisation reg x |R(x) - x|_1, a history buffer of refined
              images; pretraining of R (regularisation alone), then of D, then alternating steps
    cyclegan  G_ab: synthetic -> real and G_ba: real -> synthetic (ResNet generators), PatchGAN
              discriminators D_a, D_b, least-squares GAN losses, cycle and identity L1, image
              pools, Adam(lr, 0.5, 0.999) with the rate constant, then linearly to 0
    mrgan     stage 1 a CycleGAN synthetic <-> real; stage 2 a CycleGAN between q(G1(x)) (the
              stage-1 refined synthetic images on the 8-bit grid, as read back from disk) and the
              real images, its four nets starting from stage 1's; the refiner is G2(q(G1(x)))

What one step is (`record["steps"]`, `max_steps`, `checkpoint_every` count these):

    simgan    pretraining R: 1 refiner update; pretraining D: 1 discriminator update;
              adversarial: `refiner_steps` refiner updates, then 1 discriminator update.
              Planned: pretrain_refiner + pretrain_discriminator + schedule.steps
    cyclegan  1 generator update (both directions) then 1 discriminator update (both).
              Planned: schedule.steps
    mrgan     a CycleGAN step of the current stage. Planned: stage1.steps + stage2.steps

Images travel as uint8 [N, S, S, 3] and enter the nets as [-1, 1] NCHW floats. Every random
choice (initialisation, minibatches, buffer and pool draws) comes from the seed, through a
local torch.Generator, so a run is bit-identical on CPU for a given thread count, and a run
interrupted and resumed from its checkpoint ends bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from synth2real.config import CycleGan, MrGan, SimGan

Part = Literal["simgan", "cyclegan", "mrgan"]
# Loss means in the record are over this many most recent steps.
WINDOW = 50
# SimGAN's discriminator labels: class 0 refined, class 1 real.
REFINED, REAL = 0, 1


# ----------------------------------------------------------------------------- images


def to_net(images: torch.Tensor) -> torch.Tensor:
    """uint8 NCHW -> float in [-1, 1]."""
    return images.float() / 127.5 - 1


def quantise(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats onto the 8-bit grid (what writing and reading a PNG does to them)."""
    return torch.round((x + 1) * 127.5).clamp(0, 255) / 127.5 - 1


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """[-1, 1] NCHW floats -> uint8 NHWC array."""
    u = torch.round((x + 1) * 127.5).clamp(0, 255).to(torch.uint8)
    return u.permute(0, 2, 3, 1).cpu().numpy()


class Quantise(nn.Module):
    """MrGAN's step between its stages, as a module: round to the 8-bit grid in [-1, 1]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return quantise(x)


class Refiner:
    """A trained refiner: uint8 [N, S, S, 3] -> uint8 [N, S, S, 3]; `module` maps [-1, 1]
    NCHW floats to [-1, 1] (eval mode, frozen)."""

    def __init__(self, module: nn.Module, device: str = "cpu"):
        self.module = module.to(device).eval().requires_grad_(False)
        self.device = device

    def __call__(self, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"a refiner takes uint8 [N, S, S, 3] images, got {images.dtype} "
                             f"{images.shape}")
        out = np.empty_like(images)
        with torch.no_grad():
            for i in range(0, len(images), batch_size):
                x = torch.from_numpy(np.ascontiguousarray(images[i:i + batch_size]))
                x = to_net(x.to(self.device).permute(0, 3, 1, 2))
                out[i:i + batch_size] = to_uint8(self.module(x))
        return out


# ----------------------------------------------------------------------------- networks


class SimResBlock(nn.Module):
    """SimGAN's ResNet block: conv3x3 - ReLU - conv3x3, added to the input, then ReLU."""

    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(c, c, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.body(x))


def simgan_refiner(channels: int, blocks: int) -> nn.Sequential:
    """3x3 conv to `channels` maps + ReLU, `blocks` ResNet blocks, 1x1 conv to RGB, tanh
    (the paper's refiner, its output in the [-1, 1] image range)."""
    return nn.Sequential(nn.Conv2d(3, channels, 3, padding=1), nn.ReLU(),
                         *(SimResBlock(channels) for _ in range(blocks)),
                         nn.Conv2d(channels, 3, 1), nn.Tanh())


def simgan_discriminator(channels: int) -> nn.Sequential:
    """SimGAN's local discriminator [N, 3, S, S] -> [N, 2, S/4, S/4] per-patch logits: conv3x3
    s2 96, conv3x3 s2 64, maxpool 3x3 s1, conv3x3 32, conv1x1 32, conv1x1 2 (ReLUs between);
    the widths scaled by channels / 64 so that a small refiner gets a small discriminator,
    'same' padding so that a 32 px image gives an 8 x 8 map of patches."""
    w = [max(2, round(k * channels / 64)) for k in (96, 64, 32, 32)]
    return nn.Sequential(nn.Conv2d(3, w[0], 3, 2, 1), nn.ReLU(),
                         nn.Conv2d(w[0], w[1], 3, 2, 1), nn.ReLU(),
                         nn.MaxPool2d(3, 1, 1),
                         nn.Conv2d(w[1], w[2], 3, padding=1), nn.ReLU(),
                         nn.Conv2d(w[2], w[3], 1), nn.ReLU(),
                         nn.Conv2d(w[3], 2, 1))


class InstanceNorm(nn.InstanceNorm2d):
    """CycleGAN's instance norm (no affine, no running statistics). A 1 x 1 map (the
    discriminator's third layer below 16 px) passes unchanged: normalised it would be all
    zeros, and torch refuses it."""

    def __init__(self, c: int):
        super().__init__(c, affine=False, track_running_stats=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if x.shape[-1] * x.shape[-2] == 1 else super().forward(x)


class CycleResBlock(nn.Module):
    """CycleGAN's residual block: reflection-padded conv3x3 - IN - ReLU - conv3x3 - IN, plus
    the input (no dropout: CycleGAN's default)."""

    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), InstanceNorm(c),
                                  nn.ReLU(), nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3),
                                  InstanceNorm(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def cyclegan_generator(ngf: int, blocks: int) -> nn.Sequential:
    """CycleGAN's ResNet generator: c7s1-ngf, d2ngf, d4ngf, `blocks` x R4ngf, u2ngf, ungf,
    c7s1-3, tanh (instance norm, reflection padding)."""
    layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7), InstanceNorm(ngf),
                               nn.ReLU()]
    for k in (1, 2):
        layers += [nn.Conv2d(ngf * k, ngf * 2 * k, 3, 2, 1), InstanceNorm(ngf * 2 * k), nn.ReLU()]
    layers += [CycleResBlock(ngf * 4) for _ in range(blocks)]
    for k in (4, 2):
        layers += [nn.ConvTranspose2d(ngf * k, ngf * k // 2, 3, 2, 1, output_padding=1),
                   InstanceNorm(ngf * k // 2), nn.ReLU()]
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
    return nn.Sequential(*layers)


def patchgan(ndf: int) -> nn.Sequential:
    """CycleGAN's PatchGAN: C(ndf) without norm, C(2ndf), C(4ndf) at stride 2, then C(8ndf)
    and a 1-channel conv at stride 1 (4x4 kernels, LeakyReLU 0.2, instance norm). The
    stride-1 convs pad by 2 (the original pads by 1), so each adds a row of patches instead of
    removing one: a 32 px image gives a 6 x 6 map, 16 px 4 x 4, 8 px 3 x 3 (padding 1 would
    leave 2 x 2 at 32 px and nothing below)."""
    return nn.Sequential(nn.Conv2d(3, ndf, 4, 2, 1), nn.LeakyReLU(0.2),
                         nn.Conv2d(ndf, 2 * ndf, 4, 2, 1), InstanceNorm(2 * ndf),
                         nn.LeakyReLU(0.2),
                         nn.Conv2d(2 * ndf, 4 * ndf, 4, 2, 1), InstanceNorm(4 * ndf),
                         nn.LeakyReLU(0.2),
                         nn.Conv2d(4 * ndf, 8 * ndf, 4, 1, 2), InstanceNorm(8 * ndf),
                         nn.LeakyReLU(0.2),
                         nn.Conv2d(8 * ndf, 1, 4, 1, 2))


# ----------------------------------------------------------------------------- helpers


def derived_seed(seed: int, *path: int) -> int:
    """A 63-bit seed for one use (init, sampling, a stage) of the run's seed."""
    return int(np.random.SeedSequence([seed, *path]).generate_state(2, np.uint64)[0] >> 1)


def built(make: Callable[[], nn.Module], seed: int, device: str) -> nn.Module:
    """`make()` initialised from `seed` without touching torch's global RNG state."""
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        net = make()
    return net.to(device)


def lr_factor(step: int, steps: int) -> float:
    """CycleGAN's rate multiplier after `step` updates of `steps`: 1 for the first half, then
    linear, reaching 0 at the end (the last update runs at 1 / (steps - steps // 2))."""
    half = steps // 2
    return 1.0 if step < half else (steps - step) / (steps - half)


def cyclegan_scheduler(optimizer: torch.optim.Optimizer,
                       steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """The rate constant for the first half of `steps`, then linearly to 0 (stepped once per
    training step)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: lr_factor(t, steps))


class Pool:
    """A store of past generated images, `capacity` at most (as tensors on the device).

    `mode="cyclegan"`: CycleGAN's ImagePool: per image, while the pool fills, store it and
    return it; then with probability 1/2 return a random stored image and store the new one in
    its place, else return the new one. `mode="simgan"`: SimGAN's history buffer (`mix`:
    half of the batch replaced by stored images once there are enough; `push`: new images
    fill the buffer, then replace random entries)."""

    def __init__(self, capacity: int, gen: torch.Generator):
        self.capacity = capacity
        self.gen = gen
        self.images: torch.Tensor | None = None

    def __len__(self) -> int:
        return 0 if self.images is None else len(self.images)

    def _store(self, x: torch.Tensor) -> None:
        self.images = x.clone() if self.images is None else torch.cat([self.images, x])

    def query(self, batch: torch.Tensor) -> torch.Tensor:
        if self.capacity == 0:
            return batch
        out = []
        for x in batch.unsqueeze(1):
            if len(self) < self.capacity:
                self._store(x)
                out.append(x)
            elif torch.rand(1, generator=self.gen).item() < 0.5:
                i = int(torch.randint(self.capacity, (1,), generator=self.gen))
                assert self.images is not None
                out.append(self.images[i:i + 1].clone())
                self.images[i:i + 1] = x
            else:
                out.append(x)
        return torch.cat(out)

    def mix(self, batch: torch.Tensor) -> torch.Tensor:
        half = len(batch) // 2
        if half == 0 or len(self) < half:
            return batch
        assert self.images is not None
        pick = torch.randperm(len(self), generator=self.gen)[:half].to(batch.device)
        return torch.cat([batch[:len(batch) - half], self.images[pick]])

    def push(self, new: torch.Tensor) -> None:
        if self.capacity == 0:
            return
        free = self.capacity - len(self)
        if free > 0:
            self._store(new[:free])
            new = new[free:]
        if len(new):
            assert self.images is not None
            slots = torch.randperm(self.capacity, generator=self.gen)[:len(new)]
            self.images[slots.to(new.device)] = new

    def state_dict(self) -> dict[str, Any]:
        return {"images": None if self.images is None else self.images.cpu()}

    def load_state_dict(self, state: dict[str, Any], device: str) -> None:
        self.images = None if state["images"] is None else state["images"].to(device)


class Losses:
    """The last WINDOW values of every loss term (checkpointed, so a resumed run's record
    matches an uninterrupted one's)."""

    def __init__(self) -> None:
        self.values: dict[str, deque[float]] = {}

    def add(self, terms: dict[str, float]) -> None:
        for k, v in terms.items():
            self.values.setdefault(k, deque(maxlen=WINDOW)).append(v)

    def means(self) -> dict[str, float]:
        return {k: float(np.mean(v)) for k, v in self.values.items()}

    def state_dict(self) -> dict[str, list[float]]:
        return {k: list(v) for k, v in self.values.items()}

    def load_state_dict(self, state: dict[str, list[float]]) -> None:
        self.values = {k: deque(v, maxlen=WINDOW) for k, v in state.items()}


def images_nchw(images: np.ndarray, device: str) -> torch.Tensor:
    """uint8 [N, S, S, 3] -> uint8 [N, 3, S, S] on the device (converted per minibatch)."""
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3 \
            or images.shape[1] != images.shape[2] or images.shape[1] % 4 or images.shape[1] < 8:
        raise ValueError(f"GAN training takes uint8 [N, S, S, 3] images with S divisible by 4 "
                         f"and at least 8, got {images.dtype} {images.shape}")
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous() \
        .to(device)


# ----------------------------------------------------------------------------- trainers


class SimGanTrainer:
    """SimGAN's training state and steps (see the module docstring for what a step is)."""

    def __init__(self, cfg: SimGan, source: np.ndarray, target: np.ndarray, seed: int,
                 device: str):
        self.cfg, self.device = cfg, device
        self.source, self.target = images_nchw(source, device), images_nchw(target, device)
        self.refiner = built(lambda: simgan_refiner(cfg.channels, cfg.blocks),
                             derived_seed(seed, 0), device)
        self.disc = built(lambda: simgan_discriminator(cfg.channels), derived_seed(seed, 1),
                          device)
        # Adam where the paper used SGD (lr 0.001): SimGAN's reimplementations use Adam, and it
        # makes the rate insensitive to the losses' scale (sums over pixels and patches).
        self.opt_r = torch.optim.Adam(self.refiner.parameters(), lr=cfg.schedule.lr)
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=cfg.schedule.lr)
        self.gen = torch.Generator().manual_seed(derived_seed(seed, 2))
        self.history = Pool(cfg.history, self.gen)
        self.losses = Losses()
        self.done = 0
        self.planned = cfg.pretrain_refiner + cfg.pretrain_discriminator + cfg.schedule.steps
        self.checkpoint_every = cfg.schedule.checkpoint_every

    @property
    def phase(self) -> str:
        if self.done < self.cfg.pretrain_refiner:
            return "pretrain_refiner"
        if self.done < self.cfg.pretrain_refiner + self.cfg.pretrain_discriminator:
            return "pretrain_discriminator"
        return "adversarial"

    def sample(self, images: torch.Tensor) -> torch.Tensor:
        idx = torch.randint(len(images), (self.cfg.schedule.batch_size,), generator=self.gen)
        return to_net(images[idx.to(self.device)])

    def patch_ce(self, x: torch.Tensor, label: int) -> torch.Tensor:
        """Cross-entropy of every patch's logits against `label`, summed over the patches,
        averaged over the images (carpedm20's SimGAN sums per image)."""
        logits = self.disc(x)
        target = torch.full((len(x), *logits.shape[2:]), label, device=x.device)
        return F.cross_entropy(logits, target, reduction="sum") / len(x)

    def refiner_update(self, adversarial: bool) -> dict[str, float]:
        x = self.sample(self.source)
        refined = self.refiner(x)
        # Self-regularisation: the L1 distance summed over pixels per image ([-1, 1] scale),
        # as in the reimplementation whose reg (0.5) the settings take.
        reg = self.cfg.reg * (refined - x).abs().sum() / len(x)
        loss, terms = reg, {"reg": reg.item()}
        if adversarial:
            self.disc.requires_grad_(False)
            adv = self.patch_ce(refined, REAL)
            self.disc.requires_grad_(True)
            loss = loss + adv
            terms["refiner_adv"] = adv.item()
        self.opt_r.zero_grad()
        loss.backward()
        self.opt_r.step()
        return terms

    def disc_update(self) -> dict[str, float]:
        with torch.no_grad():
            refined = self.refiner(self.sample(self.source))
        shown = self.history.mix(refined)
        loss = self.patch_ce(self.sample(self.target), REAL) + self.patch_ce(shown, REFINED)
        self.opt_d.zero_grad()
        loss.backward()
        self.opt_d.step()
        self.history.push(refined[:(len(refined) + 1) // 2])
        return {"disc": loss.item()}

    def step(self) -> None:
        phase = self.phase
        if phase == "pretrain_refiner":
            self.losses.add(self.refiner_update(adversarial=False))
        elif phase == "pretrain_discriminator":
            self.losses.add(self.disc_update())
        else:
            terms = [self.refiner_update(adversarial=True) for _ in range(self.cfg.refiner_steps)]
            self.losses.add({k: float(np.mean([t[k] for t in terms])) for k in terms[0]})
            self.losses.add(self.disc_update())
        self.done += 1

    def due(self) -> bool:
        return self.done % self.checkpoint_every == 0

    def module(self) -> nn.Module:
        return self.refiner

    def record_losses(self) -> dict[str, Any]:
        return self.losses.means()

    def state_dict(self) -> dict[str, Any]:
        return {"done": self.done, "phase": self.phase, "refiner": self.refiner.state_dict(),
                "disc": self.disc.state_dict(), "opt_r": self.opt_r.state_dict(),
                "opt_d": self.opt_d.state_dict(), "gen": self.gen.get_state(),
                "history": self.history.state_dict(), "losses": self.losses.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.done = state["done"]
        self.refiner.load_state_dict(state["refiner"])
        self.disc.load_state_dict(state["disc"])
        self.opt_r.load_state_dict(state["opt_r"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.gen.set_state(state["gen"])
        self.history.load_state_dict(state["history"], self.device)
        self.losses.load_state_dict(state["losses"])


class CycleGanTrainer:
    """One CycleGAN's training state and steps; A = the synthetic side, B = the real side."""

    def __init__(self, cfg: CycleGan, source: np.ndarray, target: np.ndarray, seed: int,
                 device: str, init: CycleGanTrainer | None = None):
        self.cfg, self.device = cfg, device
        self.source, self.target = images_nchw(source, device), images_nchw(target, device)
        if init is not None and (init.cfg.ngf, init.cfg.ndf, init.cfg.blocks) != \
                (cfg.ngf, cfg.ndf, cfg.blocks):
            raise ValueError("MrGAN's stage 2 starts from stage 1's nets: its ngf, ndf and "
                             "blocks must be stage 1's")
        self.g_ab = built(lambda: cyclegan_generator(cfg.ngf, cfg.blocks), derived_seed(seed, 0),
                          device)
        self.g_ba = built(lambda: cyclegan_generator(cfg.ngf, cfg.blocks), derived_seed(seed, 1),
                          device)
        self.d_a = built(lambda: patchgan(cfg.ndf), derived_seed(seed, 2), device)
        self.d_b = built(lambda: patchgan(cfg.ndf), derived_seed(seed, 3), device)
        if init is not None:
            for name in ("g_ab", "g_ba", "d_a", "d_b"):
                getattr(self, name).load_state_dict(getattr(init, name).state_dict())
        lr, betas = cfg.schedule.lr, (0.5, 0.999)
        self.opt_g = torch.optim.Adam([*self.g_ab.parameters(), *self.g_ba.parameters()], lr,
                                      betas)
        self.opt_d = torch.optim.Adam([*self.d_a.parameters(), *self.d_b.parameters()], lr,
                                      betas)
        self.sched_g = cyclegan_scheduler(self.opt_g, cfg.schedule.steps)
        self.sched_d = cyclegan_scheduler(self.opt_d, cfg.schedule.steps)
        self.gen = torch.Generator().manual_seed(derived_seed(seed, 4))
        self.pool_a, self.pool_b = Pool(cfg.pool, self.gen), Pool(cfg.pool, self.gen)
        self.losses = Losses()
        self.done = 0
        self.planned = cfg.schedule.steps
        self.checkpoint_every = cfg.schedule.checkpoint_every

    def nets(self) -> Iterator[tuple[str, nn.Module]]:
        yield from (("g_ab", self.g_ab), ("g_ba", self.g_ba), ("d_a", self.d_a),
                    ("d_b", self.d_b))

    def sample(self, images: torch.Tensor) -> torch.Tensor:
        idx = torch.randint(len(images), (self.cfg.schedule.batch_size,), generator=self.gen)
        return to_net(images[idx.to(self.device)])

    def step(self) -> None:
        cfg = self.cfg
        a, b = self.sample(self.source), self.sample(self.target)
        # Generators (both directions, one update), the discriminators held fixed.
        for d in (self.d_a, self.d_b):
            d.requires_grad_(False)
        fake_b, fake_a = self.g_ab(a), self.g_ba(b)
        pred_b, pred_a = self.d_b(fake_b), self.d_a(fake_a)
        gan_ab = F.mse_loss(pred_b, torch.ones_like(pred_b))
        gan_ba = F.mse_loss(pred_a, torch.ones_like(pred_a))
        cycle = cfg.cycle * (F.l1_loss(self.g_ba(fake_b), a) + F.l1_loss(self.g_ab(fake_a), b))
        loss = gan_ab + gan_ba + cycle
        terms = {"gan_ab": gan_ab.item(), "gan_ba": gan_ba.item(), "cycle": cycle.item()}
        if cfg.identity > 0:
            identity = cfg.identity * cfg.cycle * (F.l1_loss(self.g_ab(b), b)
                                                   + F.l1_loss(self.g_ba(a), a))
            loss = loss + identity
            terms["identity"] = identity.item()
        self.opt_g.zero_grad()
        loss.backward()
        self.opt_g.step()
        for d in (self.d_a, self.d_b):
            d.requires_grad_(True)
        # Discriminators: real -> 1, pooled fakes -> 0, halved (CycleGAN slows D this way).
        disc = {}
        for name, d, real, fake, pool in (("disc_a", self.d_a, a, fake_a, self.pool_a),
                                          ("disc_b", self.d_b, b, fake_b, self.pool_b)):
            p_real, p_fake = d(real), d(pool.query(fake.detach()))
            disc[name] = 0.5 * (F.mse_loss(p_real, torch.ones_like(p_real))
                                + F.mse_loss(p_fake, torch.zeros_like(p_fake)))
        self.opt_d.zero_grad()
        (disc["disc_a"] + disc["disc_b"]).backward()
        self.opt_d.step()
        self.sched_g.step()
        self.sched_d.step()
        self.losses.add(terms | {k: v.item() for k, v in disc.items()})
        self.done += 1

    def due(self) -> bool:
        return self.done % self.checkpoint_every == 0

    def module(self) -> nn.Module:
        return self.g_ab

    def record_losses(self) -> dict[str, Any]:
        return self.losses.means()

    def state_dict(self) -> dict[str, Any]:
        return {"done": self.done, **{k: n.state_dict() for k, n in self.nets()},
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                "sched_g": self.sched_g.state_dict(), "sched_d": self.sched_d.state_dict(),
                "gen": self.gen.get_state(), "pool_a": self.pool_a.state_dict(),
                "pool_b": self.pool_b.state_dict(), "losses": self.losses.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.done = state["done"]
        for k, n in self.nets():
            n.load_state_dict(state[k])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.sched_g.load_state_dict(state["sched_g"])
        self.sched_d.load_state_dict(state["sched_d"])
        self.gen.set_state(state["gen"])
        self.pool_a.load_state_dict(state["pool_a"], self.device)
        self.pool_b.load_state_dict(state["pool_b"], self.device)
        self.losses.load_state_dict(state["losses"])


class MrGanTrainer:
    """MrGAN's two CycleGAN stages, one step counter across both."""

    def __init__(self, cfg: MrGan, source: np.ndarray, target: np.ndarray, seed: int,
                 device: str):
        self.cfg, self.source, self.target, self.seed, self.device = \
            cfg, source, target, seed, device
        self.stage1 = CycleGanTrainer(cfg.stage1, source, target, derived_seed(seed, 1), device)
        self.stage2: CycleGanTrainer | None = None
        self.planned = cfg.stage1.schedule.steps + cfg.stage2.schedule.steps

    @property
    def done(self) -> int:
        return self.stage1.done + (self.stage2.done if self.stage2 else 0)

    @property
    def stage(self) -> int:
        return 1 if self.stage1.done < self.stage1.planned else 2

    def start_stage2(self) -> None:
        """Stage 2's data, the stage-1 refined synthetic images as uint8 (recomputed on resume:
        the frozen G1 gives the same bytes), and its nets, stage 1's."""
        refined = Refiner(self.stage1.g_ab, self.device)(self.source)
        self.stage1.g_ab.train().requires_grad_(True)
        self.stage2 = CycleGanTrainer(self.cfg.stage2, refined, self.target,
                                      derived_seed(self.seed, 2), self.device, init=self.stage1)

    def step(self) -> None:
        if self.stage == 1:
            self.stage1.step()
            return
        if self.stage2 is None:
            self.start_stage2()
        assert self.stage2 is not None
        self.stage2.step()

    def due(self) -> bool:
        # Stage 1's last step is always checkpointed: a resume then starts stage 2 afresh.
        if self.stage2 is None or self.stage2.done == 0:
            return self.stage1.due() or self.stage1.done == self.stage1.planned
        return self.stage2.due()

    def module(self) -> nn.Module:
        g2 = self.stage2.g_ab if self.stage2 else self.stage1.g_ab
        if self.stage2 is None:
            return g2
        return nn.Sequential(self.stage1.g_ab, Quantise(), g2)

    def record_losses(self) -> dict[str, Any]:
        out = {"stage1": self.stage1.losses.means()}
        if self.stage2 is not None:
            out["stage2"] = self.stage2.losses.means()
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "stage1": self.stage1.state_dict(),
                "stage2": None if self.stage2 is None else self.stage2.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.stage1.load_state_dict(state["stage1"])
        if state["stage2"] is not None:
            self.start_stage2()
            assert self.stage2 is not None
            self.stage2.load_state_dict(state["stage2"])


TRAINERS: dict[str, tuple[type, type]] = {"simgan": (SimGan, SimGanTrainer),
                                          "cyclegan": (CycleGan, CycleGanTrainer),
                                          "mrgan": (MrGan, MrGanTrainer)}


# ----------------------------------------------------------------------------- training


def data_hash(images: np.ndarray) -> str:
    """A hash of every byte (blake2b runs at ~1 GB/s: milliseconds for a study's images)."""
    return hashlib.blake2b(np.ascontiguousarray(images).tobytes(), digest_size=16).hexdigest()


def fingerprint(part: str, settings: Any, source: np.ndarray, target: np.ndarray,
                seed: int) -> str:
    """What a checkpoint must have been trained on to be resumed, as canonical JSON."""
    return json.dumps({"part": part, "settings": settings.model_dump(mode="json"), "seed": seed,
                       "source": [list(source.shape), data_hash(source)],
                       "target": [list(target.shape), data_hash(target)]}, sort_keys=True)


def save(path: Path, fp: str, trainer: Any) -> None:
    """Write the checkpoint atomically: a reader sees the old or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"fingerprint": fp, "trainer": trainer.state_dict()}, tmp)
    os.replace(tmp, path)


def train(part: Part, settings: SimGan | CycleGan | MrGan, source: np.ndarray,
          target: np.ndarray, *, seed: int, checkpoint: str | Path, device: str = "cpu",
          max_steps: int | None = None) -> tuple[Refiner, dict[str, Any]]:
    """Train `part` on synthetic `source` and real `target` uint8 [N, S, S, 3] images, resuming
    from `checkpoint` when it exists (its fingerprint must match) and checkpointing to it every
    `checkpoint_every` steps and on return. `max_steps` stops this call after that many steps
    (`record["finished"]` False; call again to go on). Returns the refiner (synthetic -> real)
    and a JSON-ready record of the run."""
    start = time.perf_counter()
    if part not in TRAINERS:
        raise ValueError(f"no GAN part {part!r}; one of {sorted(TRAINERS)}")
    kind, make = TRAINERS[part]
    if not isinstance(settings, kind):
        raise TypeError(f"{part} trains with {kind.__name__} settings, got "
                        f"{type(settings).__name__}")
    path = Path(checkpoint)
    fp = fingerprint(part, settings, source, target, seed)
    trainer = make(settings, source, target, seed, device)
    if path.exists():
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state["fingerprint"] != fp:
            raise ValueError(f"checkpoint {path} was written by another run (part, settings, "
                             f"seed or images differ); delete it to train afresh")
        trainer.load_state_dict(state["trainer"])
    this_call = 0
    while trainer.done < trainer.planned and (max_steps is None or this_call < max_steps):
        trainer.step()
        this_call += 1
        if trainer.due() and trainer.done < trainer.planned:
            save(path, fp, trainer)
    save(path, fp, trainer)
    module = trainer.module()
    record = {"part": part, "finished": trainer.done >= trainer.planned,
              "steps": {"planned": trainer.planned, "done": trainer.done,
                        "this_call": this_call},
              "seconds": time.perf_counter() - start, "losses": trainer.record_losses(),
              "parameters": sum(p.numel() for p in module.parameters()), "device": str(device)}
    return Refiner(module, device), record

