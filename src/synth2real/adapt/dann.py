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
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from synth2real.config import Dann, Train
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

