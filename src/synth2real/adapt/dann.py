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

import numpy as np
import torch
import torch.nn.functional as F

from synth2real.adapt.objectives import embed_both
from synth2real.config import Dann, Train
from synth2real.model import stacked
from synth2real.model.head import DannNet


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


def recipe(cfg: Dann, n_classes: int, in_dim: int,
           train: Train) -> stacked.Recipe:
    """How DANN's nets train: a fresh `DannNet`;
    cross-entropy on labels, binary cross-entropy on domains (source 0, pool 1, an equally
    sized pool minibatch beside each source minibatch), the domain gradient reversed with the
    ramped weight; Adam at `cfg.lr` (L2 `cfg.weight_decay`) for `cfg.epochs` epochs with the
    study's StepLR."""
    def loss(p: dict[str, torch.Tensor], b: stacked.Batch) -> dict[str, torch.Tensor]:
        lam = cfg.domain_weight * ramp(b.progress, cfg.ramp_gamma)
        n = b.x.shape[1]
        z = embed_both(p, b, train.dropout)
        logits = stacked.linear(z[:, :n], p["classifier.weight"], p["classifier.bias"])
        h = torch.relu(stacked.linear(grad_reverse(z, lam), p["domain_hidden.weight"],
                                      p["domain_hidden.bias"]))
        domain = stacked.linear(b.dropout(h, train.dropout), p["domain_out.weight"],
                                p["domain_out.bias"]).squeeze(-1)
        is_pool = torch.cat([torch.zeros(n), torch.ones(n)]).expand_as(domain)
        return {"class_loss": stacked.cross_entropy(logits, b.y, b.weight),
                "domain_loss": F.binary_cross_entropy_with_logits(domain, is_pool,
                                                                  reduction="none").mean(1)}

    schedule = stacked.Schedule.of(train, epochs=cfg.epochs, lr=cfg.lr,
                                   weight_decay=cfg.weight_decay)
    return stacked.Recipe(lambda: DannNet(n_classes, in_dim, cfg.bottleneck, cfg.hidden,
                                          train.dropout), loss, schedule, pool=True)


def train_dann(cfg: Dann, source: stacked.Members, pool_rows: np.ndarray, table: torch.Tensor,
               n_classes: int, train: Train,
               seeds: Sequence[int]) -> tuple[list[DannNet], list[stacked.History]]:
    """One `DannNet` per seed on labeled source rows and unlabeled pool rows of `table`, all
    seeds in one pass (the engine's path for one split: one epoch = one pass over the source,
    each source minibatch paired with an equally sized random pool minibatch)."""
    return stacked.train(recipe(cfg, n_classes, table.shape[1], train), table,
                         [source] * len(seeds),
                         [stacked.shuffled(len(source.rows), train.batch_size)] * len(seeds),
                         seeds, pool_rows)  # type: ignore[return-value]
