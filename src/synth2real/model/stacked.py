"""The one training loop: many small models of one net kind, stacked and trained in one pass.

Every model the study trains on cached features goes through `fit`: the seeds of
a method variant (and, where its parts allow, the models of several variants) are M
nets of one kind. Their parameters are stacked by name to [M, ...] leaf tensors
(a Linear weight as [M, in, out]); every step one forward of batched matmuls serves
all M minibatches and the per-model losses are summed: no parameter is shared, so
the gradient of the sum is each model's own gradient. torch's fused Adam kernel then
updates every model that had a minibatch -- a model without one (its epoch has ended)
is left out, its step count included -- and the learning rate follows StepLR per
epoch. At the end each net gets its slice back.

Random streams (changed with this engine, see README "Speed"): a model of seed s starts from `torch.manual_seed(s)` and its net's
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

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

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

    def raw(self, n: int) -> np.ndarray:
        """n uniform 16-bit draws (four per 64-bit output of the generator)."""
        return self._gen.bit_generator.random_raw((n + 3) // 4).view(np.uint16)[:n]


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
    """What a loss reads at one step: every model's minibatch, padded to B rows.

    `x` [M, B, D] the minibatch features (a fresh tensor: a loss may mask it in place),
    `y` [M, B] their class indices, `weight` [M, B] 1/n_k on model k's n_k rows and 0 on
    padding (so `(loss * weight).sum(1)` is each model's mean; 0 for a model without a
    minibatch this step, n_k = 0), `pool` [M, B, D] pool rows beside them (pool trainers:
    every model has the same rows), `progress` the share of all steps done before this one,
    `index` [M, B] the table rows of `x` (a loss may look up per-row targets of its own).
    """

    x: torch.Tensor
    y: torch.Tensor
    weight: torch.Tensor
    rows: list[int]
    pool: torch.Tensor | None
    streams: Sequence[Stream]
    progress: float
    index: torch.Tensor | None = None  # [M, B] the table rows of `x` (0 on padding)

    def dropped(self, width: int, dim: int, p: float) -> torch.Tensor:
        """A [M, width, dim] dropout mask, True where an element is dropped, each model's drawn
        from its own stream for its real rows only (padding rows: all dropped).

        `width` is the minibatch width B or, when no model is padded, any number of rows
        (e.g. source and pool rows side by side). Kept elements are to be scaled by
        `dropout_scale(p)`.
        """
        full = self.x.shape[1]
        padded = any(n != full for n in self.rows)
        if padded and width != full:
            raise ValueError("dropout of padded minibatches needs rows of the minibatch width")
        drop = np.ones((len(self.rows), width, dim), bool)
        level = keep_level(p)
        for k, (stream, n) in enumerate(zip(self.streams, self.rows, strict=True)):
            rows = n if padded else width
            if rows:
                np.greater_equal(stream.raw(rows * dim).reshape(rows, dim), level,
                                 out=drop[k, :rows])
        return torch.from_numpy(drop)

    def dropout(self, h: torch.Tensor, p: float) -> torch.Tensor:
        """Training-mode dropout of h [M, R, D] (out of place: `h` may be needed by autograd)."""
        if p == 0:
            return h
        return torch.where(self.dropped(h.shape[1], h.shape[2], p), 0.0, h * dropout_scale(p))


def dropout_scale(p: float) -> float:
    """The factor of a kept element: the inverse of its keep probability."""
    return 65536 / keep_level(p)


# A loss: stacked parameters (by name, [M, ...]) and the step's batch -> named per-model
# terms [M]; the model's loss is their sum.
Loss = Callable[[dict[str, torch.Tensor], Batch], dict[str, torch.Tensor]]


@dataclass(frozen=True)
class Schedule:
    """Adam at `lr` (L2 `weight_decay`), StepLR(`step_size`, `gamma`) per epoch, `epochs`;
    the parameters whose names start with a prefix of `lr_scale` at that multiple of the rate."""

    epochs: int
    lr: float
    step_size: int
    gamma: float
    weight_decay: float = 0.0
    lr_scale: tuple[tuple[str, float], ...] = ()

    def scale(self, name: str) -> float:
        return next((f for prefix, f in self.lr_scale if name.startswith(prefix)), 1.0)

    @classmethod
    def of(cls, train: Train, **override: float) -> Schedule:
        """The study's schedule (`train`), with some settings replaced (e.g. DANN's lr)."""
        base = {"epochs": train.epochs, "lr": train.lr, "step_size": train.step_size,
                "gamma": train.gamma}
        return cls(**{**base, **override})  # type: ignore[arg-type]


class Adam:
    """Adam (L2 `weight_decay`) on stacked parameters [M, ...], each model with its own step
    count: torch's fused kernel, the one `torch.optim.Adam(fused=True)` runs, called on each
    model's slice. (Constructing a `torch.optim` optimizer imports torch._dynamo: ~2.4 s in
    every training job.) `step(models)` updates only those models; parameter i moves at
    `scales[i]` times the rate `lr`."""

    def __init__(self, params: dict[str, torch.Tensor], lr: float, weight_decay: float = 0.0,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 scales: Sequence[float] | None = None) -> None:
        self.params = list(params.values())
        self.lr, self.weight_decay, self.betas, self.eps = lr, weight_decay, betas, eps
        self.scales = list(scales) if scales is not None else [1.0] * len(self.params)
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        models = len(self.params[0])
        self.steps = [[torch.zeros((), dtype=torch.float32) for _ in self.params]
                      for _ in range(models)]

    @torch.no_grad()
    def step(self, models: Sequence[int]) -> None:
        for scale in dict.fromkeys(self.scales):
            group = [i for i, f in enumerate(self.scales) if f == scale]

            def slices(tensors: list[torch.Tensor], group: list[int] = group) -> list[torch.Tensor]:
                return [tensors[i][k] for k in models for i in group]

            steps = [self.steps[k][i] for k in models for i in group]
            torch._foreach_add_(steps, 1)
            torch._fused_adam_(slices(self.params), slices([p.grad for p in self.params]),
                               slices(self.m), slices(self.v), [], steps, lr=self.lr * scale,
                               beta1=self.betas[0], beta2=self.betas[1],
                               weight_decay=self.weight_decay, eps=self.eps, amsgrad=False,
                               maximize=False)


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


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
           scale: float = 1.0) -> torch.Tensor:
    """Per-model `nn.Linear` of `scale * x`: x [M, B, in], stacked weight [M, in, out] (see
    `fit`), bias [M, out] -> [M, B, out]."""
    return torch.baddbmm(bias.unsqueeze(1), x, weight, alpha=scale)


def cross_entropy(logits: torch.Tensor, y: torch.Tensor, weight: torch.Tensor,
                  label_smoothing: float = 0.0) -> torch.Tensor:
    """Per-model weighted cross-entropy: logits [M, B, C], labels and row weights [M, B] -> [M]
    (with `label_smoothing`, torch's: the target puts that mass uniformly over the classes)."""
    m, b, c = logits.shape
    ce = F.cross_entropy(logits.reshape(-1, c), y.reshape(-1), reduction="none",
                         label_smoothing=label_smoothing).view(m, b)
    return (ce * weight).sum(1)


# Called before every epoch with the stacked parameters (no gradient): a loss whose targets
# depend on the current models (SHOT's centroid pseudo-labels) recomputes them here.
Refresh = Callable[[dict[str, torch.Tensor]], None]


def fit(nets: Sequence[nn.Module], streams: Sequence[Stream], members: Sequence[Members],
        plans: Sequence[Plan], table: torch.Tensor, loss: Loss,
        schedule: Schedule, refresh: Refresh | None = None) -> list[History]:
    """Train `nets[k]` on `members[k]` (rows of `table` [R, D]) with minibatches from
    `plans[k]`, drawing from `streams[k]`, all at once; the nets end up trained (in eval
    mode). Every plan must give the same number of steps in every epoch. `refresh` runs
    before each epoch."""
    names = [n for n, _ in nets[0].named_parameters()]
    params = {n: torch.stack([_layout(dict(net.named_parameters())[n].detach()) for net in nets])
              .contiguous().requires_grad_() for n in names}
    opt = Adam(params, schedule.lr, schedule.weight_decay,
               scales=[schedule.scale(n) for n in names])
    hists = [History() for _ in nets]
    total = None
    for epoch in range(schedule.epochs):
        # StepLR: the rate times gamma every step_size epochs, multiplied as torch's does.
        if epoch and epoch % schedule.step_size == 0:
            opt.lr = opt.lr * schedule.gamma
        if refresh is not None:
            with torch.no_grad():
                refresh(params)
        epoch_steps = [plan(stream) for plan, stream in zip(plans, streams, strict=True)]
        width = max(len(s) for s in epoch_steps)
        total = total or schedule.epochs * width
        sums: torch.Tensor | None = None  # [models, terms]: each term summed over the examples
        for t in range(width):
            steps = [s[t] if t < len(s) else None for s in epoch_steps]
            batch = _batch(steps, members, streams, table, (epoch * width + t) / total)
            terms = loss(params, batch)
            values = torch.stack(list(terms.values()), 1)  # [models, terms]
            for p in params.values():
                p.grad = None
            values.sum().backward()
            opt.step([k for k, n in enumerate(batch.rows) if n])
            n = torch.tensor(batch.rows, dtype=torch.float64).unsqueeze(1)
            sums = values.detach().double() * n + (0 if sums is None else sums)
        for k, hist in enumerate(hists):
            seen = sum(len(s.positions) for s in epoch_steps[k])
            hist.lr.append(opt.lr)
            for name, value in zip(terms, sums[k].tolist(), strict=True):
                hist.terms.setdefault(name, []).append(value / seen)
    with torch.no_grad():
        for k, net in enumerate(nets):
            for name, p in net.named_parameters():
                p.copy_(_layout(params[name][k]))
            net.eval()
    return hists


@dataclass(frozen=True)
class Recipe:
    """How one kind of net trains: a fresh net (`make`, called right after the seed is set),
    its loss, its schedule, and whether each minibatch draws as many pool rows beside it."""

    make: Callable[[], nn.Module]
    loss: Loss
    schedule: Schedule
    pool: bool = False
    # Builds the recipe's per-epoch hook for one pass, from the table and the models'
    # members (see `Refresh`); None: the loss reads nothing but the minibatch.
    refresh: Callable[[torch.Tensor, Sequence[Members]], Refresh] | None = None


def train(recipe: Recipe, table: torch.Tensor, members: Sequence[Members],
          plans: Sequence[Plan], seeds: Sequence[int], pool_rows: np.ndarray,
          init: Sequence[nn.Module | None] | None = None) -> tuple[list[nn.Module], list[History]]:
    """Model k (of seed `seeds[k]`) on `members[k]` (rows of `table`), minibatches from
    `plans[k]` (paired with random rows of `pool_rows` when the recipe reads the pool), all in
    one pass of `fit`: a fresh net of the recipe, or a copy of `init[k]` where one is given
    (e.g. bridged transfer's stage 2 continues a stage-1 model)."""
    fresh = seeded(recipe.make, seeds)
    nets = [copy.deepcopy(i) if i is not None else n
            for n, i in zip(fresh, init or [None] * len(seeds), strict=True)]
    if recipe.pool:
        plans = [with_pool(p, pool_rows) for p in plans]
    hists = fit(nets, [Stream(s) for s in seeds], members, plans, table, recipe.loss,
                recipe.schedule, recipe.refresh(table, members) if recipe.refresh else None)
    return nets, hists


def _layout(p: torch.Tensor) -> torch.Tensor:
    """A Linear weight [out, in] as stacked here, [in, out] (and back): the layout a batched
    matmul reads without a transpose, forward and backward (~30% faster on a CPU)."""
    return p.t() if p.dim() == 2 else p


def _batch(steps: Sequence[Step | None], members: Sequence[Members], streams: Sequence[Stream],
           table: torch.Tensor, progress: float) -> Batch:
    rows = [0 if s is None else len(s.positions) for s in steps]
    width = max(rows)
    index = np.zeros((len(steps), width), np.int64)
    y = np.zeros((len(steps), width), np.int64)
    weight = np.zeros((len(steps), width), np.float32)
    for k, (s, m) in enumerate(zip(steps, members, strict=True)):
        if s is not None:
            index[k, :rows[k]] = m.rows[s.positions]
            y[k, :rows[k]] = m.labels[s.positions]
            weight[k, :rows[k]] = 1.0 / rows[k]
    pool = None
    if steps[0] is not None and steps[0].pool is not None:
        if len(set(rows)) != 1:
            raise ValueError("pool minibatches need the same number of rows in every model")
        pool = table[torch.from_numpy(np.stack([s.pool for s in steps]))]
    rows_t = torch.from_numpy(index)
    return Batch(table[rows_t], torch.from_numpy(y), torch.from_numpy(weight),
                 rows, pool, streams, progress, rows_t)


def block(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Per-model `head.LastBlock` (1x1 conv as a Linear, ReLU6, mean over positions): block
    inputs x [M, B, P, in] (float16 from the cache) -> pooled features [M, B, out], float32.
    The matmul runs in bfloat16 with float32 accumulation, as `LastBlock` scores (~2x float32
    on a CPU, forward and backward; the parameters and their Adam state stay float32)."""
    m, n, pos, width = x.shape
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=x.device.type == "cpu"):
        h = F.relu6(torch.baddbmm(bias.unsqueeze(1), x.reshape(m, n * pos, width), weight))
    return h.float().view(m, n, pos, -1).mean(2)


def with_block(loss: Loss) -> Loss:
    """`loss` of a net behind a trained last block (`head.BlockNet`): the block turns the
    minibatch's block inputs (and the pool's) into pooled features, then the net's loss reads
    them with its own parameters (`classifier.*`)."""
    def wrapped(p: dict[str, torch.Tensor], b: Batch) -> dict[str, torch.Tensor]:
        w, bias = p["block.linear.weight"], p["block.linear.bias"]
        inner = {k.removeprefix("classifier."): v for k, v in p.items()
                 if k.startswith("classifier.")}
        return loss(inner, replace(b, x=block(b.x, w, bias),
                                   pool=None if b.pool is None else block(b.pool, w, bias)))
    return wrapped


def head_loss(dropout: float) -> Loss:
    """The study's loss for `Head`: cross-entropy of Linear(Dropout(f)), the dropout scale
    applied to the matmul's product (one pass over the minibatch fewer)."""
    def loss(p: dict[str, torch.Tensor], b: Batch) -> dict[str, torch.Tensor]:
        x, scale = b.x, 1.0
        if dropout:
            x, scale = x.masked_fill_(b.dropped(x.shape[1], x.shape[2], dropout), 0.0), \
                dropout_scale(dropout)
        logits = linear(x, p["linear.weight"], p["linear.bias"], scale)
        return {"loss": cross_entropy(logits, b.y, b.weight)}
    return loss
