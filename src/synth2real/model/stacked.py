"""Every seed of a model trained in one pass: per-seed parameters stacked on a leading dim.

A study variant trains the same small net for several seeds on the same cached
features. Stepping them one at a time pays torch's per-operation overhead
(autograd, optimiser, loss) once per seed; here each parameter is a tensor
[S, ...] (S seeds), one loss and one backward serve every seed (the seeds share
no parameter, so the gradient of the summed loss is each seed's own gradient),
and Adam updates the whole stack at once.

Each seed reproduces its own one-seed run: `seeded` builds its net right after
`torch.manual_seed(seed)`, gives it the minibatch-order generator the one-seed
trainers use, and a dropout generator holding the global RNG state the one-seed
run's dropout would have drawn from; `dropout` draws the masks as
`F.dropout` does on CPU; `linear` runs the matmul `F.linear` runs; `Adam` is
torch's single-tensor Adam element for element, with a step count per seed.
The trained weights match the one-seed trainers' to float rounding (mostly bit
for bit: the losses are summed in another order).

Not removed: the per-element cost of drawing the dropout masks (the same
Mersenne-Twister stream as before) and the arithmetic itself, which dominates
the bottleneck nets (a 1280 x 256 layer)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from synth2real.config import Train
from synth2real.model.head import Head, History, tensors


@dataclass
class Seeded:
    """Per-seed nets as initialised by their one-seed trainers, and their generators."""

    nets: list[nn.Module]
    order: list[torch.Generator]  # minibatch order and pool draws (`Generator().manual_seed(seed)`)
    drop: list[torch.Generator]  # dropout masks: the global RNG state right after the init


def seeded(make: Callable[[], nn.Module], seeds: Sequence[int]) -> Seeded:
    """`make()` once per seed after `torch.manual_seed(seed)`, as every one-seed trainer does."""
    nets, order, drop = [], [], []
    for seed in seeds:
        torch.manual_seed(seed)
        order.append(torch.Generator().manual_seed(seed))
        nets.append(make())
        g = torch.Generator()
        g.set_state(torch.get_rng_state())
        drop.append(g)
    return Seeded(nets, order, drop)


def stack(nets: Sequence[nn.Module]) -> dict[str, torch.Tensor]:
    """The nets' parameters by name, stacked to [S, ...] leaf tensors that require grad."""
    names = [n for n, _ in nets[0].named_parameters()]
    params = [dict(net.named_parameters()) for net in nets]
    return {n: torch.stack([p[n].detach() for p in params]).requires_grad_() for n in names}


def unstack(params: dict[str, torch.Tensor], nets: Sequence[nn.Module]) -> list[nn.Module]:
    """Seed k's slice of every stacked parameter copied into `nets[k]` (returned in eval mode)."""
    with torch.no_grad():
        for k, net in enumerate(nets):
            for name, p in net.named_parameters():
                p.copy_(params[name][k])
    return [net.eval() for net in nets]


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Per-seed `nn.Linear`: x [S, B, in], weight [S, out, in], bias [S, out] -> [S, B, out].

    One `addmm` per seed, the op `F.linear` runs on a 2-d input: a batched matmul
    rounds differently, and DANN's adversarial game amplifies such differences
    into other predictions.
    """
    return torch.stack([torch.addmm(b, xk, w.t())
                        for xk, w, b in zip(x.unbind(0), weight.unbind(0), bias.unbind(0), strict=True)])


def dropout(x: torch.Tensor, p: float, gens: Sequence[torch.Generator],
            rows: Sequence[int] | None = None) -> torch.Tensor:
    """Training-mode dropout of x [S, B, D] with seed k's mask drawn from `gens[k]`.

    The ops of `F.dropout` on CPU (a Bernoulli(1 - p) noise tensor shaped like the
    input, divided by 1 - p, times the input), so seed k gets the mask its one-seed
    run drew. `rows[k]`: seed k's real batch size (rows beyond it are padding, mask 0).
    """
    if p == 0:
        return x
    noise = torch.zeros_like(x) if rows is not None else torch.empty_like(x)
    for k, g in enumerate(gens):
        n = x.shape[1] if rows is None else rows[k]
        if n:
            noise[k, :n].bernoulli_(1 - p, generator=g)
    noise.div_(1 - p)
    return x * noise


class Adam:
    """torch's (single-tensor) Adam on stacked parameters, each seed with its own step count.

    `step(active)` updates only the seeds in `active` (a seed whose epoch has no
    minibatch left must not move). Optional L2 `weight_decay` as in torch.
    """

    def __init__(self, params: dict[str, torch.Tensor], lr: float, weight_decay: float = 0.0,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.params = list(params.values())
        self.lr, self.weight_decay, self.betas, self.eps = lr, weight_decay, betas, eps
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self.denom = [torch.empty_like(p) for p in self.params]
        n_seeds = len(self.params[0])
        self.steps = [0] * n_seeds

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def _update(self, p: torch.Tensor, g: torch.Tensor, m: torch.Tensor, v: torch.Tensor,
                denom: torch.Tensor, step: int) -> None:
        # The statements of torch.optim.adam._single_tensor_adam (no amsgrad, not capturable),
        # the denominator computed in a kept buffer: the same values without a fresh
        # allocation of the parameter's size per step.
        b1, b2 = self.betas
        if self.weight_decay:
            g = g.add(p, alpha=self.weight_decay)
        m.lerp_(g, 1 - b1)
        v.mul_(b2).addcmul_(g, g, value=1 - b2)
        step_f = float(step)
        bias1, bias2 = 1 - b1**step_f, 1 - b2**step_f
        torch.sqrt(v, out=denom).div_(bias2**0.5).add_(self.eps)
        p.addcdiv_(m, denom, value=-(self.lr / bias1))

    @torch.no_grad()
    def step(self, active: Sequence[int] | None = None) -> None:
        seeds = range(len(self.steps)) if active is None else active
        for k in seeds:
            self.steps[k] += 1
        together = len(seeds) == len(self.steps) and len(set(self.steps)) == 1
        for p, m, v, d in zip(self.params, self.m, self.v, self.denom, strict=True):
            if together:  # one update of the whole stack: same step count, same scalars
                self._update(p, p.grad, m, v, d, self.steps[0])
            else:
                for k in seeds:
                    self._update(p[k], p.grad[k], m[k], v[k], d[k], self.steps[k])

    def epoch_done(self, epochs: int, cfg: Train) -> None:
        """StepLR(cfg.step_size, cfg.gamma) after `epochs` finished epochs: lr times gamma
        every step_size epochs, multiplied in place as torch's StepLR does."""
        if epochs % cfg.step_size == 0:
            self.lr = self.lr * cfg.gamma


# One epoch of minibatches: per step, per seed, the rows (of the stacked data
# table) of that seed's minibatch; an empty tensor when the seed has none left.
Plan = Callable[[Sequence[torch.Generator]], list[list[torch.Tensor]]]


def table(datasets: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """Per-seed (X, y) as one feature table, one label table and each seed's first row.

    Seeds handed the very same arrays share their rows (the usual case: one source set).
    """
    firsts: dict[tuple[int, int], int] = {}
    xs, ys, offsets, n = [], [], [], 0
    for X, y in datasets:
        key = (id(X), id(y))
        if key not in firsts:
            firsts[key] = n
            xs.append(X)
            ys.append(y)
            n += len(y)
        offsets.append(firsts[key])
    Xt, yt = tensors(np.concatenate(xs), np.concatenate(ys))
    return Xt, yt, offsets


def shuffled(sizes: Sequence[int], offsets: Sequence[int], batch_size: int) -> Plan:
    """`train_head`'s epoch for every seed: randperm(N) from the seed's generator, cut in order."""
    def plan(gens: Sequence[torch.Generator]) -> list[list[torch.Tensor]]:
        chunks = [(torch.randperm(n, generator=g) + off).split(batch_size)
                  for n, off, g in zip(sizes, offsets, gens, strict=True)]
        empty = torch.zeros(0, dtype=torch.int64)
        return [[c[t] if t < len(c) else empty for c in chunks]
                for t in range(max(len(c) for c in chunks))]
    return plan


def fit_heads(X: torch.Tensor, y: torch.Tensor, plan: Plan, num_classes: int, cfg: Train,
              seeds: Sequence[int]) -> list[tuple[Head, History]]:
    """A fresh `Head` per seed (as `fresh_head` seeds it), all trained together on `plan`'s minibatches.

    Per seed the loss is the mean cross-entropy over its minibatch, Adam and StepLR
    as `optimizer`, dropout as `Head`'s; History as `train_head` records it.
    """
    s = seeded(lambda: Head(num_classes, cfg.dropout, in_dim=X.shape[1]), seeds)
    params = stack(s.nets)
    weight, bias = params["linear.weight"], params["linear.bias"]
    opt = Adam(params, cfg.lr)
    hists = [History() for _ in seeds]
    n_seeds = len(seeds)
    for epoch in range(cfg.epochs):
        for h in hists:
            h.lr.append(opt.lr)
        total = torch.zeros(n_seeds, dtype=torch.float64)
        seen = torch.zeros(n_seeds, dtype=torch.float64)
        for step in plan(s.order):
            rows = [len(i) for i in step]
            width = max(rows)
            full = all(n == width for n in rows)
            idx = torch.stack(step) if full else torch.stack(
                [torch.cat([i, i.new_zeros(width - len(i))]) for i in step])
            out = linear(dropout(X[idx], cfg.dropout, s.drop, None if full else rows), weight, bias)
            n = torch.tensor(rows, dtype=out.dtype)
            if full:
                loss = cross_entropy(out, y[idx])
            else:
                ce = F.cross_entropy(out.reshape(-1, num_classes), y[idx].reshape(-1),
                                     reduction="none").view(n_seeds, width)
                real = torch.arange(width) < n.unsqueeze(1)
                loss = (ce * real).sum(1) / n.clamp(min=1)
            opt.zero_grad()
            loss.sum().backward()
            opt.step(None if full else [k for k, r in enumerate(rows) if r])
            total += loss.detach().double() * n.double()
            seen += n.double()
        for h, t, m in zip(hists, total.tolist(), seen.tolist(), strict=True):
            h.loss.append(t / max(m, 1))
        opt.epoch_done(epoch + 1, cfg)
    heads = unstack(params, s.nets)
    return list(zip(heads, hists, strict=True))  # type: ignore[arg-type]


def train_heads(datasets: Sequence[tuple[np.ndarray, np.ndarray]], num_classes: int, cfg: Train,
                seeds: Sequence[int]) -> list[tuple[Head, History]]:
    """`train_head(*datasets[k], num_classes, cfg, seeds[k])` for every k, in one batched pass."""
    X, y, offsets = table(datasets)
    return fit_heads(X, y, shuffled([len(d[1]) for d in datasets], offsets, cfg.batch_size),
                     num_classes, cfg, seeds)


def embed(params: dict[str, torch.Tensor], x: torch.Tensor, p: float,
          gens: Sequence[torch.Generator]) -> torch.Tensor:
    """`BottleneckNet.embed` in training mode for every seed: x [S, B, in] -> z [S, B, bottleneck]."""
    z = torch.relu(linear(x, params["bottleneck.0.weight"], params["bottleneck.0.bias"]))
    return dropout(z, p, gens)


def classify(params: dict[str, torch.Tensor], z: torch.Tensor) -> torch.Tensor:
    """`BottleneckNet.classifier` for every seed: z [S, B, bottleneck] -> logits [S, B, C]."""
    return linear(z, params["classifier.weight"], params["classifier.bias"])


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-seed mean cross-entropy of logits [S, B, C] against labels [S, B] -> [S]."""
    s, b, c = logits.shape
    return F.cross_entropy(logits.reshape(-1, c), y.reshape(-1), reduction="none").view(s, b).mean(1)
