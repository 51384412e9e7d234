"""DANN (Ganin & Lempitsky, 2015) on the frozen, cached backbone features.

The backbone stays frozen, so the adversarial game is played by a small
bottleneck on top of the cached features:

    f [N, 1280] -> bottleneck g(f) [N, B] -> label classifier -> logits [N, C]
                                          -> GRL -> domain classifier -> logit [N]

The gradient-reversal layer (GRL) is the identity going forward and
multiplies the gradient by -lambda going back, so the bottleneck learns to
*fool* the domain classifier while staying good at the labels. lambda ramps
from 0 to `domain_weight` with the usual schedule 2 / (1 + exp(-gamma p)) - 1
(p = training progress in [0, 1]): early, noisy domain gradients would
otherwise destroy the label signal. Real-pool features enter unlabeled.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from synth2real.adapt.objectives import pool_pairs
from synth2real.config import Dann, Train
from synth2real.model import stacked
from synth2real.model.head import DannNet, tensors


class _GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, lam: float) -> torch.Tensor:  # type: ignore[override]
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return -ctx.lam * grad, None


def grad_reverse(x: torch.Tensor, lam: float) -> torch.Tensor:
    """Identity forward; gradient multiplied by -lam backward."""
    return _GradReverse.apply(x, lam)


def ramp(progress: float, gamma: float) -> float:
    """DANN's reversal-weight schedule: 0 at progress 0, -> 1 as progress -> 1."""
    return 2.0 / (1.0 + math.exp(-gamma * progress)) - 1.0


@dataclass
class DannHistory:
    class_loss: list[float] = field(default_factory=list)
    domain_loss: list[float] = field(default_factory=list)
    lam: list[float] = field(default_factory=list)


def train_dann(Xs: np.ndarray, ys: np.ndarray, Xt: np.ndarray, num_classes: int, train: Train,
               cfg: Dann, seed: int) -> tuple[DannNet, DannHistory]:
    """Fit a `DannNet` on labeled source (Xs, ys) and unlabeled target features Xt.

    One epoch = one pass over the source; each source minibatch is paired with
    an equally sized random target minibatch. Adam with the study's lr and
    StepLR; cross-entropy on labels, binary cross-entropy on domains.
    """
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = DannNet(num_classes, Xs.shape[1], cfg.bottleneck, cfg.hidden, train.dropout)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=train.step_size, gamma=train.gamma)
    ce, bce = nn.CrossEntropyLoss(), nn.BCEWithLogitsLoss()
    S, Y = tensors(Xs, ys)
    T = torch.from_numpy(np.ascontiguousarray(Xt, np.float32))
    bs, steps_per_epoch = train.batch_size, math.ceil(len(S) / train.batch_size)
    total = cfg.epochs * steps_per_epoch
    hist, step = DannHistory(), 0
    for _ in range(cfg.epochs):
        net.train()
        order = torch.randperm(len(S), generator=gen)
        c_sum = d_sum = 0.0
        for i in range(0, len(order), bs):
            idx = order[i : i + bs]
            tidx = torch.randint(len(T), (len(idx),), generator=gen)
            lam = cfg.domain_weight * ramp(step / total, cfg.ramp_gamma)
            zs, zt = net.embed(S[idx]), net.embed(T[tidx])
            class_loss = ce(net.classifier(zs), Y[idx])
            dom_logits = net.domain(grad_reverse(torch.cat([zs, zt]), lam)).squeeze(1)
            dom_labels = torch.cat([torch.zeros(len(zs)), torch.ones(len(zt))])
            domain_loss = bce(dom_logits, dom_labels)
            opt.zero_grad()
            (class_loss + domain_loss).backward()
            opt.step()
            c_sum += class_loss.item()
            d_sum += domain_loss.item()
            step += 1
        hist.class_loss.append(c_sum / steps_per_epoch)
        hist.domain_loss.append(d_sum / steps_per_epoch)
        hist.lam.append(lam)
        sched.step()
    return net.eval(), hist


def train_danns(Xs: np.ndarray, ys: np.ndarray, Xt: np.ndarray, num_classes: int, train: Train,
                cfg: Dann, seeds: Sequence[int]) -> list[tuple[DannNet, DannHistory]]:
    """`train_dann(..., seed)` for every seed of `seeds`, in one batched pass.

    Seed k draws its source order, target minibatches and dropout masks (bottleneck
    on source, on target, then the domain classifier's) from its own generators in
    `train_dann`'s order, so its net is that seed's, up to float rounding.
    """
    s = stacked.seeded(lambda: DannNet(num_classes, Xs.shape[1], cfg.bottleneck, cfg.hidden,
                                       train.dropout), seeds)
    params = stacked.stack(s.nets)
    opt = stacked.Adam(params, cfg.lr, weight_decay=cfg.weight_decay)
    S, Y = tensors(Xs, ys)
    T = torch.from_numpy(np.ascontiguousarray(Xt, np.float32))
    bs, steps_per_epoch = train.batch_size, math.ceil(len(S) / train.batch_size)
    total = cfg.epochs * steps_per_epoch
    hists, step = [DannHistory() for _ in seeds], 0
    for epoch in range(cfg.epochs):
        idx, tidx = pool_pairs(len(S), len(T), bs, s.order)
        c_sum = d_sum = torch.zeros(len(seeds), dtype=torch.float64)
        for i, ti in zip(idx, tidx, strict=True):
            lam = cfg.domain_weight * ramp(step / total, cfg.ramp_gamma)
            zs = stacked.embed(params, S[i], train.dropout, s.drop)
            zt = stacked.embed(params, T[ti], train.dropout, s.drop)
            class_loss = stacked.cross_entropy(stacked.classify(params, zs), Y[i])
            h = torch.relu(stacked.linear(grad_reverse(torch.cat([zs, zt], 1), lam),
                                          params["domain.0.weight"], params["domain.0.bias"]))
            dom_logits = stacked.linear(stacked.dropout(h, train.dropout, s.drop),
                                        params["domain.3.weight"], params["domain.3.bias"]).squeeze(-1)
            dom_labels = torch.cat([torch.zeros(zs.shape[:2]), torch.ones(zt.shape[:2])], 1)
            domain_loss = F.binary_cross_entropy_with_logits(dom_logits, dom_labels,
                                                             reduction="none").mean(1)
            opt.zero_grad()
            (class_loss + domain_loss).sum().backward()
            opt.step()
            c_sum = c_sum + class_loss.detach().double()
            d_sum = d_sum + domain_loss.detach().double()
            step += 1
        for hist, c, d in zip(hists, (c_sum / steps_per_epoch).tolist(),
                              (d_sum / steps_per_epoch).tolist(), strict=True):
            hist.class_loss.append(c)
            hist.domain_loss.append(d)
            hist.lam.append(lam)
        opt.epoch_done(epoch + 1, train)
    return list(zip(stacked.unstack(params, s.nets), hists, strict=True))  # type: ignore[arg-type]
