"""Reference trainers: one model at a time, in plain PyTorch, for the tests to compare against.

The workflow trains every model with `synth2real.model.stacked.fit` (many models at
once, stacked parameters, batched matmuls, its own call of the fused Adam kernel). These
are written independently of it, the way a textbook loop is: the net's own modules,
`torch.optim.Adam(fused=True)`, `torch.optim.lr_scheduler.StepLR`, the loss of one
minibatch at a time. They share only the *random stream* of a model (its
`stacked.Stream`: minibatch order, pool draws, dropout masks, drawn in the documented
order), so a model trained here and the engine's model of the same seed must agree to
float rounding.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from synth2real.adapt.dann import ramp
from synth2real.adapt.mixing import split_batch
from synth2real.config import Dann, PoolObjective, Train
from synth2real.model import head
from synth2real.model.stacked import Stream, keep_level


def dropout(h: torch.Tensor, p: float, stream: Stream) -> torch.Tensor:
    """Training-mode dropout of h [N, D] with the mask the model's stream draws next."""
    if p == 0:
        return h
    n, d = h.shape
    level = keep_level(p)
    keep = torch.from_numpy((stream.raw(n * d) < level).reshape(n, d))
    return h * keep * (65536 / level)


def _optimizer(net: torch.nn.Module, train: Train, lr: float | None = None,
               weight_decay: float = 0.0):
    opt = torch.optim.Adam(net.parameters(), lr=lr or train.lr, weight_decay=weight_decay,
                           fused=True)
    return opt, torch.optim.lr_scheduler.StepLR(opt, step_size=train.step_size, gamma=train.gamma)


def train_head(X: np.ndarray, y: np.ndarray, n_classes: int, train: Train, seed: int,
               order: str = "shuffled", n_real: int = 0, ratio: int = 1) -> head.Head:
    """The study's head on (X, y): per epoch a permutation cut into minibatches; or, with
    order="mixed", the last `n_real` rows are real images mixed in at 1:`ratio`."""
    torch.manual_seed(seed)
    net = head.Head(n_classes, train.dropout, X.shape[1])
    stream = Stream(seed)
    opt, sched = _optimizer(net, train)
    Xt, yt = torch.from_numpy(X.astype(np.float32)), torch.from_numpy(y.astype(np.int64))
    n_syn = len(y) - n_real
    real_order, real_pos = None, 0
    for _ in range(train.epochs):
        if order == "shuffled":
            perm = stream.permutation(len(y))
            batches = [perm[i:i + train.batch_size] for i in range(0, len(y), train.batch_size)]
        else:
            r, s = split_batch(train.batch_size, ratio)
            if real_order is None:
                real_order = stream.permutation(n_real)
            syn = stream.permutation(n_syn)
            batches = []
            for i in range(0, n_syn, s):
                if real_pos + r > n_real:
                    real_order, real_pos = stream.permutation(n_real), 0
                batches.append(np.r_[syn[i:i + s], n_syn + real_order[real_pos:real_pos + r]])
                real_pos += r
        for idx in batches:
            idx = torch.from_numpy(idx)
            loss = F.cross_entropy(net.linear(dropout(Xt[idx], train.dropout, stream)), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    return net.eval()


def _paired_epochs(n_source: int, n_pool: int, batch_size: int, stream: Stream):
    """An epoch's source minibatches and, drawn after the order, a pool minibatch for each."""
    perm = stream.permutation(n_source)
    batches = [perm[i:i + batch_size] for i in range(0, n_source, batch_size)]
    return [(b, stream.integers(n_pool, len(b))) for b in batches]


def train_objective(objective: PoolObjective, Xs: np.ndarray, ys: np.ndarray, Xp: np.ndarray,
                    n_classes: int, train: Train, seed: int) -> head.BottleneckNet:
    """A bottleneck net with the objective's pool loss, one minibatch pair at a time."""
    from synth2real.adapt.objectives import coral_loss, im_loss, mcc_loss

    torch.manual_seed(seed)
    net = head.BottleneckNet(n_classes, Xs.shape[1], objective.bottleneck, train.dropout)
    stream = Stream(seed)
    opt, sched = _optimizer(net, train)
    S, Y = torch.from_numpy(Xs.astype(np.float32)), torch.from_numpy(ys.astype(np.int64))
    P = torch.from_numpy(Xp.astype(np.float32))
    for _ in range(train.epochs):
        for idx, pidx in _paired_epochs(len(ys), len(Xp), train.batch_size, stream):
            n = len(idx)
            z = dropout(torch.relu(net.bottleneck(torch.cat([S[idx], P[pidx]]))), train.dropout,
                        stream)
            zs, zt = z[:n], z[n:]
            logits_t = net.classifier(zt)
            if objective.kind == "mcc":
                term = objective.weight * mcc_loss(logits_t, objective.temperature)
            elif objective.kind == "coral":
                term = objective.weight * coral_loss(zs, zt)
            else:
                term = im_loss(logits_t, objective.entropy, objective.diversity)
            loss = F.cross_entropy(net.classifier(zs), Y[idx]) + term
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    return net.eval()


def train_dann(cfg: Dann, Xs: np.ndarray, ys: np.ndarray, Xp: np.ndarray, n_classes: int,
               train: Train, seed: int) -> head.DannNet:
    """DANN with a hand-written gradient reversal (a hook on the bottleneck features)."""
    torch.manual_seed(seed)
    net = head.DannNet(n_classes, Xs.shape[1], cfg.bottleneck, cfg.hidden, train.dropout)
    stream = Stream(seed)
    opt, sched = _optimizer(net, train, cfg.lr, cfg.weight_decay)
    S, Y = torch.from_numpy(Xs.astype(np.float32)), torch.from_numpy(ys.astype(np.int64))
    P = torch.from_numpy(Xp.astype(np.float32))
    step, total = 0, None
    for epoch in range(cfg.epochs):
        pairs = _paired_epochs(len(ys), len(Xp), train.batch_size, stream)
        total = total or cfg.epochs * len(pairs)
        for idx, pidx in pairs:
            lam = cfg.domain_weight * ramp(step / total, cfg.ramp_gamma)
            n = len(idx)
            z = dropout(torch.relu(net.bottleneck(torch.cat([S[idx], P[pidx]]))), train.dropout,
                        stream)
            reversed_z = z.detach().requires_grad_()  # the domain classifier's input
            h = dropout(torch.relu(net.domain_hidden(reversed_z)), train.dropout, stream)
            domain = net.domain_out(h).squeeze(1)
            is_pool = torch.cat([torch.zeros(n), torch.ones(n)])
            class_loss = F.cross_entropy(net.classifier(z[:n]), Y[idx])
            domain_loss = F.binary_cross_entropy_with_logits(domain, is_pool)
            opt.zero_grad()
            domain_loss.backward()
            # Reversal: the bottleneck receives -lambda times the domain gradient.
            (class_loss + (z * (-lam * reversed_z.grad)).sum()).backward()
            opt.step()
            step += 1
        sched.step()
    return net.eval()
