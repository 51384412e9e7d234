"""Pool objectives on the frozen, cached backbone features: MCC, CORAL and IM.

Each is a loss on the unlabeled real pool added to the source cross-entropy,
fitted by a small bottleneck net (`synth2real.model.head.BottleneckNet`):

    f [N, 1280] -> bottleneck g(f) [N, B] -> classifier -> logits [N, C]

    loss = CE(source logits, source labels) + L_target(source and pool minibatch)

    mcc:   weight * MCC(pool logits)                       (Jin et al., 2020)
    coral: weight * CORAL(g(source), g(pool))              (Sun & Saenko, 2016)
    im:    entropy * H(pool) - diversity * H(mean pool)     (SHOT's IM, Liang et al., 2020)

Settings (`synth2real.config.Mcc` / `Coral` / `Im`, a variant's `trainer` part) default to
the values of Transfer-Learning-Library (MCC, CORAL) and SHOT (IM); the schedule is the
study's `Train`. Pool labels are never read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from synth2real.config import Coral, Im, Mcc, PoolObjective, Train
from synth2real.model import stacked
from synth2real.model.head import BottleneckNet

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


# The weighted pool term of each objective, from (settings, source bottleneck features,
# pool bottleneck features, pool logits), each [M, B, ...] -> [M]. One entry per kind of
# the `trainer` part that fits a bottleneck with a pool loss.
PoolTerm = Callable[[PoolObjective, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
POOL_TERMS: dict[type, PoolTerm] = {
    Mcc: lambda s, zs, zt, gt: s.weight * mcc_loss(gt, s.temperature),
    Coral: lambda s, zs, zt, gt: s.weight * coral_loss(zs, zt),
    Im: lambda s, zs, zt, gt: im_loss(gt, s.entropy, s.diversity),
}


def embed_both(p: dict[str, torch.Tensor], b: stacked.Batch, dropout: float) -> torch.Tensor:
    """Training-mode bottleneck features of the source and the pool minibatch side by side,
    z [M, 2B, width] (one batched matmul for both; source rows first)."""
    x = torch.cat([b.x, b.pool], 1)
    z = torch.relu(stacked.linear(x, p["bottleneck.weight"], p["bottleneck.bias"]))
    return b.dropout(z, dropout)


def recipe(objective: PoolObjective, n_classes: int, in_dim: int,
           train: Train) -> stacked.Recipe:
    """How `objective`'s nets train: a fresh `BottleneckNet`,
    loss = CE(source minibatch) + the objective's term on it and an equally sized pool
    minibatch, the study's schedule."""
    term = POOL_TERMS[type(objective)]

    def loss(p: dict[str, torch.Tensor], b: stacked.Batch) -> dict[str, torch.Tensor]:
        z = embed_both(p, b, train.dropout)
        zs, zt = z[:, :b.x.shape[1]], z[:, b.x.shape[1]:]
        logits = stacked.linear(z, p["classifier.weight"], p["classifier.bias"])
        gs, gt = logits[:, :b.x.shape[1]], logits[:, b.x.shape[1]:]
        return {"class_loss": stacked.cross_entropy(gs, b.y, b.weight),
                "pool_loss": term(objective, zs, zt, gt)}

    return stacked.Recipe(lambda: BottleneckNet(n_classes, in_dim, objective.bottleneck,
                                                train.dropout), loss, stacked.Schedule.of(train),
                          pool=True)


def train_objective(objective: PoolObjective, source: stacked.Members, pool_rows: np.ndarray,
                    table: torch.Tensor, n_classes: int, train: Train,
                    seeds: Sequence[int]) -> tuple[list[BottleneckNet], list[stacked.History]]:
    """One `BottleneckNet` per seed with `objective`'s pool term, all seeds in one pass (the
    engine's path for one split: one epoch = one pass over the source in shuffled minibatches
    of `train.batch_size`, each paired with an equally sized random pool minibatch)."""
    return stacked.train(recipe(objective, n_classes, table.shape[1], train), table,
                         [source] * len(seeds),
                         [stacked.shuffled(len(source.rows), train.batch_size)] * len(seeds),
                         seeds, pool_rows)  # type: ignore[return-value]
