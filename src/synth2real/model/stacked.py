"""The one training loop: many small models of one net kind, stacked and trained in one pass.

Every model the study trains on cached features goes through `fit`: the seeds of
a method variant (and, where its parts allow, more of its models) are M nets of
one kind. Each keeps its own parameters (the net's own leaf tensors); at every
step the parameters of the models that have a minibatch are stacked by name to
[M, ...], one forward of batched matmuls serves them all, and the per-model
losses are summed: no parameter is shared, so the gradient of the sum is each
model's own gradient. torch's Adam (fused) then updates every model that had a
minibatch -- a model without one has no gradient and is skipped, its step count
included -- and StepLR scales the learning rate per epoch.

Random streams (changed in this version of the engine, see README "Random
streams"): a model of seed s starts from `torch.manual_seed(s)` and its net's
initialisation, then draws its minibatch order, its pool minibatches and its
dropout masks from its own numpy PCG64 stream seeded with s, in a fixed order.
Nothing it draws depends on the other models of the stack, so a model is the
one it would be if trained alone, up to float summation order; and every
variant's model of seed s starts where the others' do, so variants pair seed by
seed. Dropout masks come from 16-bit draws: kept with probability
round((1 - p) 2^16) / 2^16 (0.80000305 for p = 0.2) and scaled by its inverse,
so the expected input of a layer is exactly unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from synth2real.config import Train


def keep_level(p: float) -> int:
    """Dropout keeps an element when its 16-bit draw is below this level."""
    return round((1.0 - p) * 65536)


class Stream:
    """One model's random stream: minibatch order, pool minibatches, dropout masks."""

    def __init__(self, seed: int) -> None:
        self._gen = np.random.Generator(np.random.PCG64(seed))

    def permutation(self, n: int) -> np.ndarray:
        return self._gen.permutation(n)

    def integers(self, n: int, size: int) -> np.ndarray:
        return self._gen.integers(n, size=size)

    def keep(self, rows: int, cols: int, p: float) -> np.ndarray:
        """A [rows, cols] boolean dropout mask: True = kept (see `keep_level`)."""
        n = rows * cols
        raw = self._gen.bit_generator.random_raw((n + 3) // 4).view(np.uint16)[:n]
        return (raw < keep_level(p)).reshape(rows, cols)


@dataclass(frozen=True)
class Members:
    """One model's training examples: rows of the stacked feature table, their class indices."""

    rows: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        if len(self.rows) != len(self.labels) or len(self.rows) == 0:
            raise ValueError(f"a model needs one label per training row and at least one row "
                             f"(got {len(self.rows)} rows, {len(self.labels)} labels)")


@dataclass(frozen=True)
class Step:
    """One model's minibatch: positions into its `Members`, and rows of the table's pool part
    drawn beside them (trainers with a loss on the unlabeled pool)."""

    positions: np.ndarray
    pool: np.ndarray | None = None


# One model's epoch of minibatches, drawn from its stream.
Plan = Callable[[Stream], list[Step]]


def shuffled(n: int, batch_size: int) -> Plan:
    """The study's epoch: a fresh permutation of the model's n examples, cut in order."""
    def plan(stream: Stream) -> list[Step]:
        order = stream.permutation(n)
        return [Step(order[i:i + batch_size]) for i in range(0, n, batch_size)]
    return plan


def with_pool(plan: Plan, pool_rows: np.ndarray) -> Plan:
    """`plan`'s minibatches, each paired with as many random pool rows (drawn after the order)."""
    def paired(stream: Stream) -> list[Step]:
        steps = plan(stream)
        return [Step(s.positions, pool_rows[stream.integers(len(pool_rows), len(s.positions))])
                for s in steps]
    return paired


@dataclass
class Batch:
    """What a loss reads at one step, for the M models that have a minibatch (padded to B rows).

    `x` [M, B, D] the minibatch features, `y` [M, B] their class indices, `weight` [M, B]
    1/n_k on model k's n_k rows and 0 on padding (so `(loss * weight).sum(1)` is each model's
    mean), `pool` [M, B, D] the pool rows beside them (no padding: equal rows per model),
    `progress` the share of all steps done before this one.
    """

    x: torch.Tensor
    y: torch.Tensor
    weight: torch.Tensor
    rows: list[int]
    pool: torch.Tensor | None
    streams: list[Stream]
    progress: float

    def dropout(self, h: torch.Tensor, p: float) -> torch.Tensor:
        """Training-mode dropout of h [M, R, D], each model's mask from its own stream.

        R is the minibatch width B (padding rows get no mask and stay 0) or, when no model
        is padded, any number of rows (e.g. source and pool rows side by side).
        """
        if p == 0:
            return h
        m, r, d = h.shape
        padded = any(n != self.x.shape[1] for n in self.rows)
        if padded and r != self.x.shape[1]:
            raise ValueError("dropout of padded minibatches needs rows of the minibatch width")
        keep = np.zeros((m, r, d), bool)
        for k, (stream, n) in enumerate(zip(self.streams, self.rows, strict=True)):
            rows = n if padded else r
            keep[k, :rows] = stream.keep(rows, d, p)
        scale = 65536 / keep_level(p)
        return h * (torch.from_numpy(keep).to(h.dtype) * scale)


# A loss: stacked parameters (by name, [M, ...]) and the step's batch -> named per-model
# terms [M]; the model's loss is their sum.
Loss = Callable[[dict[str, torch.Tensor], Batch], dict[str, torch.Tensor]]


@dataclass(frozen=True)
class Schedule:
    """Adam at `lr` (L2 `weight_decay`), StepLR(`step_size`, `gamma`) per epoch, `epochs`."""

    epochs: int
    lr: float
    step_size: int
    gamma: float
    weight_decay: float = 0.0

    @classmethod
    def of(cls, train: Train, **override: float) -> Schedule:
        """The study's schedule (`train`), with some settings replaced (e.g. DANN's lr)."""
        base = {"epochs": train.epochs, "lr": train.lr, "step_size": train.step_size,
                "gamma": train.gamma}
        return cls(**{**base, **override})  # type: ignore[arg-type]


@dataclass
class History:
    """Per epoch: the learning rate used, and the mean of each loss term over the examples."""

    lr: list[float] = field(default_factory=list)
    terms: dict[str, list[float]] = field(default_factory=dict)


def seeded(make: Callable[[], nn.Module], seeds: Sequence[int]) -> list[nn.Module]:
    """`make()` once per seed, right after `torch.manual_seed(seed)`: seed s's initial weights
    are the same in every variant."""
    nets = []
    for seed in seeds:
        torch.manual_seed(seed)
        nets.append(make())
    return nets


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Per-model `nn.Linear`: x [M, B, in], weight [M, out, in], bias [M, out] -> [M, B, out]."""
    return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))


def cross_entropy(logits: torch.Tensor, y: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Per-model weighted cross-entropy: logits [M, B, C], labels and row weights [M, B] -> [M]."""
    m, b, c = logits.shape
    ce = F.cross_entropy(logits.reshape(-1, c), y.reshape(-1), reduction="none").view(m, b)
    return (ce * weight).sum(1)


def fit(nets: Sequence[nn.Module], streams: Sequence[Stream], members: Sequence[Members],
        plans: Sequence[Plan], table: torch.Tensor, loss: Loss,
        schedule: Schedule) -> list[History]:
    """Train `nets[k]` on `members[k]` (rows of `table` [R, D]) with minibatches from
    `plans[k]`, drawing from `streams[k]`, all at once; the nets are trained in place (and
    returned to eval mode). Every plan must give the same number of steps in every epoch."""
    params = [dict(net.named_parameters()) for net in nets]
    names = list(params[0])
    opt = torch.optim.Adam([p for ps in params for p in ps.values()], lr=schedule.lr,
                           weight_decay=schedule.weight_decay, fused=True)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=schedule.step_size,
                                            gamma=schedule.gamma)
    hists = [History() for _ in nets]
    labels = [torch.from_numpy(m.labels.astype(np.int64)) for m in members]
    total = None
    for epoch in range(schedule.epochs):
        lr = opt.param_groups[0]["lr"]
        epoch_steps = [plan(stream) for plan, stream in zip(plans, streams, strict=True)]
        width = max(len(s) for s in epoch_steps)
        total = total or schedule.epochs * width
        sums: torch.Tensor | None = None  # [models, terms]: each term summed over the examples
        for t in range(width):
            active = [k for k, s in enumerate(epoch_steps) if t < len(s)]
            batch = _batch([epoch_steps[k][t] for k in active], [members[k] for k in active],
                           [labels[k] for k in active], [streams[k] for k in active], table,
                           (epoch * width + t) / total)
            stacked = {n: torch.stack([params[k][n] for k in active]) for n in names}
            terms = loss(stacked, batch)
            values = torch.stack(list(terms.values()), 1)  # [active, terms]
            opt.zero_grad(set_to_none=True)
            values.sum().backward()
            opt.step()
            if sums is None:
                sums = torch.zeros(len(nets), len(terms), dtype=torch.float64)
            n = torch.tensor(batch.rows, dtype=torch.float64).unsqueeze(1)
            sums.index_add_(0, torch.tensor(active), values.detach().double() * n)
        for k, hist in enumerate(hists):
            seen = sum(len(s.positions) for s in epoch_steps[k])
            hist.lr.append(lr)
            for name, value in zip(terms, sums[k].tolist(), strict=True):
                hist.terms.setdefault(name, []).append(value / seen)
        sched.step()
    for net in nets:
        net.eval()
    return hists


def _batch(steps: Sequence[Step], members: Sequence[Members], labels: Sequence[torch.Tensor],
           streams: Sequence[Stream], table: torch.Tensor, progress: float) -> Batch:
    rows = [len(s.positions) for s in steps]
    width = max(rows)
    index = torch.zeros(len(steps), width, dtype=torch.int64)
    y = torch.zeros(len(steps), width, dtype=torch.int64)
    weight = torch.zeros(len(steps), width)
    for i, (s, m, lab) in enumerate(zip(steps, members, labels, strict=True)):
        pos = torch.from_numpy(s.positions)
        index[i, :rows[i]] = torch.from_numpy(m.rows[s.positions])
        y[i, :rows[i]] = lab[pos]
        weight[i, :rows[i]] = 1.0 / rows[i]
    pool = None
    if steps[0].pool is not None:
        if len(set(rows)) != 1:
            raise ValueError("pool minibatches need the same number of rows in every model")
        pool = table[torch.from_numpy(np.stack([s.pool for s in steps]))]
    return Batch(table[index], y, weight, rows, pool, list(streams), progress)


def head_loss(dropout: float) -> Loss:
    """The study's loss for `Head`: cross-entropy of Linear(Dropout(f))."""
    def loss(p: dict[str, torch.Tensor], b: Batch) -> dict[str, torch.Tensor]:
        logits = linear(b.dropout(b.x, dropout), p["linear.weight"], p["linear.bias"])
        return {"loss": cross_entropy(logits, b.y, b.weight)}
    return loss
