"""Training on synthetic + pseudo-labeled real features with a fixed real:synthetic ratio per minibatch.

Plain concatenation (the study's adaptation) lets the pool's share of each
minibatch follow its share of the data. The mixed-reality literature instead
fixes it: 1 real image per `ratio` synthetic ones in *every* minibatch
(1:1, 1:7, 1:15). One epoch is one pass over the synthetic set; the real
images cycle through reshuffled passes of their own.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from synth2real.config import Train
from synth2real.model import stacked
from synth2real.model.head import Head, History, fresh_head, tensors


def split_batch(batch_size: int, ratio: int) -> tuple[int, int]:
    """(real, synthetic) images per minibatch for real:synthetic = 1:ratio; at least one real."""
    real = max(1, round(batch_size / (1 + ratio)))
    return real, max(1, batch_size - real)


def train_head_mixed(Xs: np.ndarray, ys: np.ndarray, Xr: np.ndarray, yr: np.ndarray, ratio: int,
                     num_classes: int, cfg: Train, seed: int) -> tuple[Head, History]:
    """A fresh `Head` trained on minibatches of fixed composition (see `split_batch`)."""
    if len(Xr) == 0:
        raise ValueError("mixing needs at least one pseudo-labeled real image")
    head, opt, sched, gen = fresh_head(num_classes, Xs.shape[1], cfg, seed)
    loss_fn = nn.CrossEntropyLoss()
    S, SY = tensors(Xs, ys)
    R, RY = tensors(Xr, yr)
    n_real, n_syn = split_batch(cfg.batch_size, ratio)
    real_order, real_pos = torch.randperm(len(R), generator=gen), 0
    hist = History()
    for _ in range(cfg.epochs):
        head.train()
        hist.lr.append(opt.param_groups[0]["lr"])
        order = torch.randperm(len(S), generator=gen)
        total, seen = 0.0, 0
        for i in range(0, len(order), n_syn):
            sidx = order[i : i + n_syn]
            if real_pos + n_real > len(real_order):  # next pass over the real images
                real_order, real_pos = torch.randperm(len(R), generator=gen), 0
            ridx = real_order[real_pos : real_pos + n_real]
            real_pos += n_real
            x, y = torch.cat([S[sidx], R[ridx]]), torch.cat([SY[sidx], RY[ridx]])
            opt.zero_grad()
            loss = loss_fn(head(x), y)
            loss.backward()
            opt.step()
            total += loss.item() * len(y)
            seen += len(y)
        hist.loss.append(total / max(seen, 1))
        sched.step()
    return head.eval(), hist


def mixed(n_syn_rows: int, real_rows: Sequence[int], real_offsets: Sequence[int], ratio: int,
          batch_size: int) -> stacked.Plan:
    """`train_head_mixed`'s minibatches for every seed (rows of a table: synthetic first).

    Each seed draws from its own generator in `train_head_mixed`'s order: the first
    real pass, then per epoch the synthetic order, and a new real pass whenever the
    current one runs out. The plan keeps each seed's real position across epochs.
    """
    n_real, n_syn = split_batch(batch_size, ratio)
    state: list[tuple[torch.Tensor, int]] = []

    def plan(gens: Sequence[torch.Generator]) -> list[list[torch.Tensor]]:
        if not state:
            state.extend((torch.randperm(n, generator=g), 0) for n, g in zip(real_rows, gens, strict=True))
        per_seed = []
        for k, g in enumerate(gens):
            order = torch.randperm(n_syn_rows, generator=g)
            real_order, pos = state[k]
            steps = []
            for i in range(0, n_syn_rows, n_syn):
                if pos + n_real > len(real_order):
                    real_order, pos = torch.randperm(real_rows[k], generator=g), 0
                steps.append(torch.cat([order[i : i + n_syn],
                                        real_order[pos : pos + n_real] + real_offsets[k]]))
                pos += n_real
            state[k] = (real_order, pos)
            per_seed.append(steps)
        return [list(step) for step in zip(*per_seed, strict=True)]
    return plan


def train_heads_mixed(Xs: np.ndarray, ys: np.ndarray, real: Sequence[tuple[np.ndarray, np.ndarray]],
                      ratio: int, num_classes: int, cfg: Train,
                      seeds: Sequence[int]) -> list[tuple[Head, History]]:
    """`train_head_mixed(Xs, ys, *real[k], ratio, num_classes, cfg, seeds[k])` for every k, batched."""
    if any(len(yr) == 0 for _, yr in real):
        raise ValueError("mixing needs at least one pseudo-labeled real image")
    X, y, offsets = stacked.table([(Xs, ys), *real])
    plan = mixed(len(ys), [len(yr) for _, yr in real], offsets[1:], ratio, cfg.batch_size)
    return stacked.fit_heads(X, y, plan, num_classes, cfg, seeds)
