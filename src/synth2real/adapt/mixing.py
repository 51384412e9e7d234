"""Training on synthetic + pseudo-labeled real features with a fixed real:synthetic ratio per minibatch.

Plain concatenation (the study's adaptation) lets the pool's share of each
minibatch follow its share of the data. The mixed-reality literature instead
fixes it: 1 real image per `ratio` synthetic ones in *every* minibatch
(1:1, 1:7, 1:15). One epoch is one pass over the synthetic set; the real
images cycle through reshuffled passes of their own.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from synth2real.config import Train
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
