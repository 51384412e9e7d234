"""Pool objectives on the frozen, cached backbone features: MCC, CORAL and IM.

Each is a loss on the unlabeled real pool added to the source cross-entropy,
fitted by a small bottleneck net (`synth2real.model.head.BottleneckNet`):

    f [N, 1280] -> bottleneck g(f) [N, B] -> classifier -> logits [N, C]

    loss = CE(source logits, source labels) + L_target(source and pool minibatch)

    mcc:   weight * MCC(pool logits)                       (Jin et al., 2020)
    coral: weight * CORAL(g(source), g(pool))              (Sun & Saenko, 2016)
    im:    entropy * H(pool) - diversity * H(mean pool)     (SHOT's IM, Liang et al., 2020)

Settings (`synth2real.config.Mcc` / `Coral` / `Im`) default to the values of
Transfer-Learning-Library (MCC, CORAL) and SHOT (IM); the schedule is the
study's `Train`. Pool labels are never read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from synth2real.config import Objective, Train
from synth2real.config.methods import OBJECTIVES
from synth2real.model import stacked
from synth2real.model.head import BottleneckNet, optimizer, tensors

# Inside logs, so that a zero probability contributes 0 * log(eps), not nan.
EPS = 1e-5


def entropy(probs: torch.Tensor) -> torch.Tensor:
    """Shannon entropy (nats) of each row of probs [N, C] -> [N]."""
    return -(probs * torch.log(probs + EPS)).sum(-1)


def mcc_loss(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Minimum Class Confusion of one minibatch of logits Z [B, C] (Jin et al., 2020);
    of each of S minibatches for Z [S, B, C] (-> [S]).

        Y   = softmax(Z / T)                                 temperature-rescaled predictions
        w_i = B (1 + exp(-H(Y_i))) / sum_j (1 + exp(-H(Y_j)))  certain rows weigh more (no gradient)
        M   = Y^T diag(w) Y                                  [C, C] class confusion
        M'  = M with every row divided by its sum             (category normalisation)
        L   = (sum(M') - trace(M')) / C                      confusion between different classes

    0 when every prediction is one-hot and the minibatch has no two classes
    confused; larger the more probability mass two classes share.
    """
    n, c = logits.shape[-2:]
    probs = F.softmax(logits / temperature, dim=-1)
    w = 1 + torch.exp(-entropy(probs).detach())
    w = (n * w / w.sum(-1, keepdim=True)).unsqueeze(-1)
    confusion = (probs * w).mT @ probs
    confusion = confusion / confusion.sum(dim=-1, keepdim=True)
    return (confusion.sum((-2, -1)) - confusion.diagonal(dim1=-2, dim2=-1).sum(-1)) / c


def coral_loss(fs: torch.Tensor, ft: torch.Tensor) -> torch.Tensor:
    """Correlation alignment between source features fs [Ns, d] and target features ft [Nt, d]
    (or S pairs of them: [S, Ns, d], [S, Nt, d] -> [S]).

        mu   = mean of the rows;  C = (f - mu)^T (f - mu) / (N - 1)   (covariance, [d, d])
        L    = mean_k (mu_s - mu_t)_k^2 + mean_jk (C_s - C_t)_jk^2

    This is Transfer-Learning-Library's CorrelationAlignmentLoss (tllib/alignment/coral.py),
    the loss its default trade-off 1 was set for: 4 x Deep CORAL's
    ||C_s - C_t||_F^2 / (4 d^2), plus a first-order (mean) term. 0 for equal
    means and covariances. A one-row batch has covariance 0 (divided by max(N - 1, 1)).
    """
    def moments(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu = f.mean(-2, keepdim=True)
        centered = f - mu
        return mu, centered.mT @ centered / max(f.shape[-2] - 1, 1)

    (mu_s, cov_s), (mu_t, cov_t) = moments(fs), moments(ft)
    return (mu_s - mu_t).pow(2).mean((-2, -1)) + (cov_s - cov_t).pow(2).mean((-2, -1))


def im_loss(logits: torch.Tensor, entropy_weight: float = 1.0,
            diversity_weight: float = 1.0) -> torch.Tensor:
    """Information maximisation of one minibatch of logits [B, C] (SHOT, Liang et al., 2020);
    of each of S minibatches for logits [S, B, C] (-> [S]).

        p = softmax(logits);  p_bar = mean_i p_i
        L = entropy_weight * mean_i H(p_i) - diversity_weight * H(p_bar)

    Low when each prediction is confident (small H(p_i)) and the minibatch's
    predictions cover the classes evenly (large H(p_bar)); -log C at best.
    """
    probs = F.softmax(logits, dim=-1)
    return (entropy_weight * entropy(probs).mean(-1)
            - diversity_weight * entropy(probs.mean(-2)))


# The weighted pool term of each objective, from (settings, source bottleneck
# features, pool bottleneck features, pool logits).
TargetTerm = Callable[[Any, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
TARGET_TERMS: dict[str, TargetTerm] = {
    "mcc": lambda s, zs, zt, gt: s.weight * mcc_loss(gt, s.temperature),
    "coral": lambda s, zs, zt, gt: s.weight * coral_loss(zs, zt),
    "im": lambda s, zs, zt, gt: im_loss(gt, s.entropy, s.diversity),
}


@dataclass
class ObjectiveHistory:
    """Per-epoch means: source cross-entropy, the weighted pool term, and the lr used."""

    class_loss: list[float] = field(default_factory=list)
    target_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)


def train_objective(kind: str, Xs: np.ndarray, ys: np.ndarray, Xp: np.ndarray, n_classes: int,
                    train: Train, settings: Objective | Mapping[str, Any],
                    seed: int) -> tuple[BottleneckNet, ObjectiveHistory]:
    """Fit a `BottleneckNet` with objective `kind` ("mcc" | "coral" | "im").

    Xs, ys: labeled source features and labels; Xp: unlabeled pool features.
    `settings`: the objective's config section (or its dict, as in a variant's spec).
    One epoch = one pass over the source in shuffled minibatches of
    `train.batch_size`, each paired with an equally sized random pool minibatch;
    Adam at `train.lr` with StepLR, `train.epochs` epochs, dropout `train.dropout`.
    The same seed gives the same weights.
    """
    if kind not in TARGET_TERMS:
        raise ValueError(f"unknown objective {kind!r}; one of {sorted(TARGET_TERMS)}")
    cfg = OBJECTIVES[kind].model_validate(settings)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = BottleneckNet(n_classes, Xs.shape[1], cfg.bottleneck, train.dropout)
    opt, sched = optimizer(net, train)
    S, Y = tensors(Xs, ys)
    P = torch.from_numpy(np.ascontiguousarray(Xp, np.float32))
    bs, steps = train.batch_size, math.ceil(len(S) / train.batch_size)
    term, hist = TARGET_TERMS[kind], ObjectiveHistory()
    for _ in range(train.epochs):
        net.train()
        hist.lr.append(opt.param_groups[0]["lr"])
        order = torch.randperm(len(S), generator=gen)
        c_sum = t_sum = 0.0
        for i in range(0, len(order), bs):
            idx = order[i : i + bs]
            pidx = torch.randint(len(P), (len(idx),), generator=gen)
            zs, zt = net.embed(S[idx]), net.embed(P[pidx])
            class_loss = F.cross_entropy(net.classifier(zs), Y[idx])
            target_loss = term(cfg, zs, zt, net.classifier(zt))
            opt.zero_grad()
            (class_loss + target_loss).backward()
            opt.step()
            c_sum += class_loss.item()
            t_sum += target_loss.item()
        hist.class_loss.append(c_sum / steps)
        hist.target_loss.append(t_sum / steps)
        sched.step()
    return net.eval(), hist


def train_objectives(kind: str, Xs: np.ndarray, ys: np.ndarray, Xp: np.ndarray, n_classes: int,
                     train: Train, settings: Objective | Mapping[str, Any],
                     seeds: Sequence[int]) -> list[tuple[BottleneckNet, ObjectiveHistory]]:
    """`train_objective(kind, ..., seed)` for every seed of `seeds`, in one batched pass.

    Seed k draws its source order, pool minibatches and dropout masks from its own
    generators in `train_objective`'s order, so its net is that seed's, up to float rounding.
    """
    if kind not in TARGET_TERMS:
        raise ValueError(f"unknown objective {kind!r}; one of {sorted(TARGET_TERMS)}")
    cfg = OBJECTIVES[kind].model_validate(settings)
    s = stacked.seeded(lambda: BottleneckNet(n_classes, Xs.shape[1], cfg.bottleneck, train.dropout),
                       seeds)
    params = stacked.stack(s.nets)
    opt = stacked.Adam(params, train.lr)
    S, Y = tensors(Xs, ys)
    P = torch.from_numpy(np.ascontiguousarray(Xp, np.float32))
    bs, steps = train.batch_size, math.ceil(len(S) / train.batch_size)
    term, hists = TARGET_TERMS[kind], [ObjectiveHistory() for _ in seeds]
    for epoch in range(train.epochs):
        for h in hists:
            h.lr.append(opt.lr)
        idx, pidx = pool_pairs(len(S), len(P), bs, s.order)
        c_sum = t_sum = torch.zeros(len(seeds), dtype=torch.float64)
        for i, pi in zip(idx, pidx, strict=True):
            zs = stacked.embed(params, S[i], train.dropout, s.drop)
            zt = stacked.embed(params, P[pi], train.dropout, s.drop)
            class_loss = stacked.cross_entropy(stacked.classify(params, zs), Y[i])
            target_loss = term(cfg, zs, zt, stacked.classify(params, zt))
            opt.zero_grad()
            (class_loss + target_loss).sum().backward()
            opt.step()
            c_sum = c_sum + class_loss.detach().double()
            t_sum = t_sum + target_loss.detach().double()
        for h, c, t in zip(hists, (c_sum / steps).tolist(), (t_sum / steps).tolist(), strict=True):
            h.class_loss.append(c)
            h.target_loss.append(t)
        opt.epoch_done(epoch + 1, train)
    return list(zip(stacked.unstack(params, s.nets), hists, strict=True))  # type: ignore[arg-type]


def pool_pairs(n_source: int, n_pool: int, batch_size: int,
               gens: Sequence[torch.Generator]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """One epoch's source minibatches [S, b] and paired random pool rows [S, b], per step.

    Seed k's generator draws as the one-seed trainers do: the source order, then
    one `randint` of pool rows per minibatch.
    """
    orders = [torch.randperm(n_source, generator=g).split(batch_size) for g in gens]
    pools = [[torch.randint(n_pool, (len(i),), generator=g) for i in order]
             for order, g in zip(orders, gens, strict=True)]
    return ([torch.stack(step) for step in zip(*orders, strict=True)],
            [torch.stack(step) for step in zip(*pools, strict=True)])
