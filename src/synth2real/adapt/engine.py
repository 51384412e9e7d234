"""The engine: every model of the study is a method variant, trained here from its parts.

Stage `train_variants` (one rule per training job, `Study.training_jobs`) trains the
variants of one job -- same kind of work, same feature kinds -- from their typed
specs (`synth2real.config.Variant`) on the image sets the rule hands in, every seed
of every variant in as few batched passes as their parts allow
(`synth2real.model.stacked`), and writes each model's checkpoint, metrics,
provenance and accepted pseudo-labels:

    shared         the variant's training reads no pool image and an earlier variant
                   trains the same model (adabn = synthetic-1000 on AdaBN features): that
                   variant's checkpoints (`shared_models`), scored on this job's features
    target_labels  none: the source train split of `source.size`; only: seed s's draw of
                   labeled oracle photos (`draws`, synth2real.data.budgets; all of them: the
                   oracle); pooled: both; bridged: the photos, starting from the same seed's
                   model of a label-free variant (`start_models`)
    trainer        a recipe (`TRAINERS`): net, loss, schedule. head: the study's head;
                   mcc | coral | im: a bottleneck net with a pool loss (`objectives`);
                   dann (`dann`). Models whose recipe, settings and minibatch shapes agree
                   train in one pass (every head variant of a job; a pool trainer's budgets)
    trainable      last_block: the recipe's net behind MobileNetV2's last block, initialised
                   with the pretrained block (`backbone`), reading the cached block inputs
    pseudo_labels  per round, each model labels the pool (round 1: the source-only
                   variant's checkpoints, `labelling_models`) -> `reject` drops the most
                   out-of-domain images -> a selector keeps labels -> fresh heads train on
                   source + pseudo-labels, concatenated or `mixing`, every variant of the job
                   in one pass per round; the round kept is chosen by `rounds.chosen_by`

Every part's function is registered in one table below (`SELECTORS`, `TRAINERS`,
`ROUND_CHOICE`; rejection scores in `pseudo_labels.OOD_SCORES`); a test fails when a
settings model of `synth2real.config.variants` has none. A model of seed s starts from
the same weights and random stream in every variant, so variants pair seed by seed. The
real test set is scored after training; nothing reads its labels, and the pool's labels
feed only the diagnostics. Labeled real photos are read from the oracle split alone.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property, partial
from typing import Any

import numpy as np
import torch
from torch import nn

from synth2real import provenance as prov
from synth2real.adapt import dann, mixing, objectives, prior, pseudo_labels, shot
from synth2real.analysis.domain import density_ratio, proxy_a_distance
from synth2real.config import (
    Balanced,
    Coral,
    Dann,
    Head,
    HeadOnly,
    Im,
    LastBlock,
    Mcc,
    Prior,
    Shot,
    Threshold,
    Train,
    Variant,
)
from synth2real.data import budgets
from synth2real.data.imagesets import ImageSet, Labeled
from synth2real.data.manifests import read_csv, write_csv
from synth2real.model import criteria, head, stacked
from synth2real.model.backbone import FEATURE_DIM, last_block_weights, load_backbone
from synth2real.predict import softmax
from synth2real.store import read_json, write_json

log = logging.getLogger(__name__)

# Source and pool rows of DEV's domain classifier in a job that measures no proxy A-distance.
DEV_SAMPLE = 1000

# Pseudo-label selection: (pool probabilities [P, C], settings, candidate rows or None)
# -> (selected pool rows, their class indices).
Selector = Callable[[np.ndarray, Any, np.ndarray | None], tuple[np.ndarray, np.ndarray]]
SELECTORS: dict[type, Selector] = {
    Threshold: lambda probs, s, cand: pseudo_labels.threshold(probs, s.threshold, cand),
    Balanced: lambda probs, s, cand: pseudo_labels.balanced(probs, s.share, s.threshold, cand),
}

def _em(part: Prior, model: nn.Module, probs: np.ndarray, source: np.ndarray,
        val: Labeled) -> tuple[np.ndarray, dict[str, Any]]:
    estimated, rounds = prior.em(probs, source, part.tol, part.max_iter)
    return estimated, {"iterations": rounds}


def _bbse(part: Prior, model: nn.Module, probs: np.ndarray, source: np.ndarray,
          val: Labeled) -> tuple[np.ndarray, dict[str, Any]]:
    return prior.bbse(head.predict_proba(model, val.X), val.y, probs, source), {}


# The `prior` part, by kind: (settings, model, its pool probabilities, the training labels'
# class frequencies, the labeled source val split) -> (the target prior estimated on the pool,
# what the model's record of it adds).
PRIOR_ESTIMATES: dict[str, Callable[..., tuple[np.ndarray, dict[str, Any]]]] = {
    "em": _em, "bbse": _bbse}

# `rounds.chosen_by`: a round's record -> its sort key (the smallest is kept; ties: earliest).
ROUND_CHOICE: dict[str, Callable[[dict[str, Any]], float]] = {
    "val_acc": lambda r: -r["val_acc"],
    "pool_entropy": lambda r: r["pool_entropy"],
}


@dataclass
class Data:
    """The features a training job reads, in its feature kinds; pool labels for diagnostics.

    The trainers index one feature table (`table`): the source rows, then the oracle's
    labeled target photos, then the pool (from `pool_offset`). Block inputs ([N, 49, 320],
    float16) stay float16 in the table; each minibatch is made float32.
    """

    classes: list[str]
    source_rows: list[dict[str, str]]  # the source manifest (rank, split, label)
    source: Labeled  # every source image of the manifest, in its order
    oracle: Labeled  # the labeled target photos of split oracle
    oracle_paths: list[str]
    pool: np.ndarray  # unlabeled real pool [P, D]
    pool_paths: list[str]
    pool_true: list[str]  # diagnostics only
    pool_in_domain: list[int]  # diagnostics only
    test: Labeled  # real test: scored after training, never selected on
    target_val: Labeled  # labeled target val: model-selection criteria only
    draws: list[dict[str, str]] = field(default_factory=list)  # budget draws (photos per seed)
    draws_file: str = ""
    block: dict[str, torch.Tensor] | None = None  # the pretrained last block (block inputs)
    table: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        dtype = np.float16 if self.pool.ndim == 3 else np.float32
        self.table = torch.from_numpy(np.ascontiguousarray(
            np.concatenate([self.source.X, self.oracle.X, self.pool]), dtype))

    @property
    def pool_offset(self) -> int:
        return len(self.source) + len(self.oracle)

    @property
    def pool_rows(self) -> np.ndarray:
        return self.pool_offset + np.arange(len(self.pool))

    @property
    def feature_dim(self) -> int:
        """Width of what a classifier reads: the cached features, or a block's pooled output."""
        return FEATURE_DIM if self.table.dim() == 3 else self.table.shape[1]

    def synthetic(self, size: int) -> tuple[stacked.Members, Labeled]:
        """The synthetic set of `size` per class: its train split (table rows) and val split."""
        chosen = {split: np.array([i for i, r in enumerate(self.source_rows)
                                   if int(r["rank"]) < size and r["split"] == split], np.int64)
                  for split in ("train", "val")}
        train = chosen["train"]
        val = Labeled(self.source.X[chosen["val"]], self.source.y[chosen["val"]])
        return stacked.Members(train, self.source.y[train]), val

    def photos(self, per_class: int | None, seed: int) -> stacked.Members:
        """Seed `seed`'s draw of `per_class` labeled oracle photos per class, as table rows
        (None: every oracle photo, in the manifest's order)."""
        if per_class is None:
            return stacked.Members(len(self.source) + np.arange(len(self.oracle)), self.oracle.y)
        if not self.draws:
            raise ValueError("a labeled budget needs the budget draws (rule budget_draws)")
        index = {p: i for i, p in enumerate(self.oracle_paths)}
        chosen = budgets.photos(self.draws, seed, per_class, self.classes, self.draws_file)
        missing = [p for p in chosen if p not in index]
        if missing:
            raise ValueError(f"{self.draws_file}: {missing[0]!r} is not an oracle photo of this "
                             "run's target_labeled manifest; rerun rule budget_draws")
        pos = np.array([index[p] for p in chosen], np.int64)
        return stacked.Members(len(self.source) + pos, self.oracle.y[pos])

    def splits(self, spec: Variant, seed: int) -> tuple[stacked.Members, Labeled, int]:
        """The variant's training split for seed `seed` (table rows and labels), its validation
        split, and how many of the split's first rows are synthetic (the rest is real)."""
        labels = spec.target_labels
        if labels is None:
            train, val = self.synthetic(spec.source.size)
            return train, val, len(train.rows)
        photos = self.photos(labels.per_class, seed)
        if labels.use != "pooled":
            return photos, self.target_val, 0
        train, _ = self.synthetic(spec.source.size)
        return (stacked.Members(np.r_[train.rows, photos.rows], np.r_[train.labels, photos.labels]),
                self.target_val, len(train.rows))

    def features(self, rows: np.ndarray) -> np.ndarray:
        return self.table[torch.from_numpy(rows)].numpy()


@dataclass
class Fitted:
    """One seed's trained model and what its metrics record beside the scores."""

    model: nn.Module
    train: stacked.Members  # what it was trained on (source split + accepted pseudo-labels, ...)
    extra: dict[str, Any] = field(default_factory=dict)
    accepted: list[dict[str, object]] = field(default_factory=list)  # its pseudo-labels


def _history(hist: stacked.History) -> dict[str, list[float]]:
    return {"lr": hist.lr, **hist.terms}


def head_recipe(n_classes: int, in_dim: int, train: Train) -> stacked.Recipe:
    """The study's head: Dropout + Linear, cross-entropy, the study's schedule."""
    return stacked.Recipe(lambda: head.Head(n_classes, train.dropout, in_dim),
                  stacked.head_loss(train.dropout), stacked.Schedule.of(train))


# The `trainer` part, by its settings model: (settings, classes, feature width, train) -> recipe.
TRAINERS: dict[type, Callable[[Any, int, int, Train], stacked.Recipe]] = {
    Head: lambda s, c, d, train: head_recipe(c, d, train),
    **dict.fromkeys((Mcc, Coral, Im), objectives.recipe),
    Dann: dann.recipe,
    Shot: shot.source_recipe,  # stage 1; `_shot_stage2` adapts its nets
}


def trainable(recipe: stacked.Recipe, part: HeadOnly | LastBlock,
              block: dict[str, torch.Tensor] | None) -> stacked.Recipe:
    """`recipe` with the `trainable` part applied: last_block puts the net behind the pretrained
    last block (`block`: its state dict), trained at `lr_scale` times the rate, for its epochs."""
    if isinstance(part, HeadOnly):
        return recipe
    if block is None:
        raise ValueError("a last_block model needs the pretrained block: pass the job's backbone")

    def make() -> nn.Module:
        net = head.BlockNet.around(recipe.make())
        net.block.load_state_dict(block)
        return net

    schedule = replace(recipe.schedule, epochs=part.epochs or recipe.schedule.epochs,
                       lr_scale=(("block.", part.lr_scale),))
    return stacked.Recipe(make, stacked.with_block(recipe.loss), schedule, recipe.pool)


def fit_models(recipe: stacked.Recipe, table: torch.Tensor, members: Sequence[stacked.Members],
               plans: Sequence[stacked.Plan], seeds: Sequence[int], pool_rows: np.ndarray,
               init: Sequence[nn.Module | None] | None = None) -> list[tuple[nn.Module, dict]]:
    """`stacked.train`, each model with its history as a metrics record."""
    nets, hists = stacked.train(recipe, table, members, plans, seeds, pool_rows, init)
    return [(net, _history(h)) for net, h in zip(nets, hists, strict=True)]


def fit_heads(table: torch.Tensor, n_classes: int, members: Sequence[stacked.Members],
              plans: Sequence[stacked.Plan], seeds: Sequence[int],
              train: Train) -> list[tuple[nn.Module, dict]]:
    """A fresh study head per model k (of seed `seeds[k]`) on `members[k]` (rows of `table`),
    minibatches from `plans[k]`: all in one batched pass."""
    return fit_models(head_recipe(n_classes, table.shape[1], train), table, members, plans,
                      seeds, np.zeros(0, np.int64))


def plan_for(spec: Variant, members: stacked.Members, n_synthetic: int,
             batch_size: int) -> stacked.Plan:
    """A model's epochs: the study's shuffled minibatches, or with `mixing` real:synthetic
    1:ratio in every minibatch (its first `n_synthetic` members are the synthetic ones)."""
    if spec.mixing is None:
        return stacked.shuffled(len(members.rows), batch_size)
    return mixing.mixed(n_synthetic, len(members.rows) - n_synthetic, spec.mixing.ratio, batch_size)


def _steps(spec: Variant, members: stacked.Members, n_synthetic: int, batch_size: int) -> int:
    """Minibatches per epoch of `plan_for`'s plan."""
    if spec.mixing is None:
        return math.ceil(len(members.rows) / batch_size)
    return math.ceil(n_synthetic / mixing.split_batch(batch_size, spec.mixing.ratio)[1])


def _train_passes(specs: dict[str, Variant], data: Data, train: Train, seeds: Sequence[int],
                  starts: dict[str, Sequence[nn.Module]]) -> dict[str, list[Fitted]]:
    """Every seed of every variant without pseudo-labels, in as few passes as possible: the
    models of variants whose trainer settings, trainable part and minibatch shapes agree
    train together (e.g. all head variants of a job; a pool trainer at every budget)."""
    groups: dict[str, list[str]] = {}
    splits = {name: [data.splits(spec, s) for s in seeds] for name, spec in specs.items()}
    for name, spec in specs.items():
        train_split, _, n_syn = splits[name][0]
        # Pool minibatches must line up across a pass: same steps, same rows per step.
        shape = ("mix", n_syn, spec.mixing.ratio) if spec.mixing else len(train_split.rows)
        # A model whose epoch has ended still computes (on padding) while the pass goes on:
        # block models, and the budget track's hundreds, go in passes of equal epochs.
        budget = spec.target_labels is not None and spec.target_labels.per_class is not None
        steps = (_steps(spec, train_split, n_syn, train.batch_size)
                 if budget or spec.trainable.kind != "head" else None)
        key = repr((spec.trainer, spec.trainable,
                    None if spec.trainer.kind == "head" else shape, steps))
        groups.setdefault(key, []).append(name)
    out: dict[str, list[Fitted]] = {}
    for names in groups.values():
        spec = specs[names[0]]
        recipe = trainable(TRAINERS[type(spec.trainer)](spec.trainer, len(data.classes),
                                                        data.feature_dim, train),
                           spec.trainable, data.block)
        members = [splits[n][k][0] for n in names for k in range(len(seeds))]
        plans = [plan_for(specs[n], splits[n][k][0], splits[n][k][2], train.batch_size)
                 for n in names for k in range(len(seeds))]
        init = [starts[n][k] if n in starts else None for n in names for k in range(len(seeds))]
        all_seeds = [s for _ in names for s in seeds]
        fits = fit_models(recipe, data.table, members, plans, all_seeds, data.pool_rows, init)
        if isinstance(spec.trainer, Shot):
            fits = _shot_stage2(spec, recipe, data, train, all_seeds, fits)
        fitted = iter(fits)
        for n in names:
            out[n] = [Fitted(net, splits[n][k][0], {"history": h})
                      for k, (net, h) in zip(range(len(seeds)), fitted)]
    return out


def _shot_stage2(spec: Variant, source: stacked.Recipe, data: Data, train: Train,
                 seeds: Sequence[int], fits: list[tuple[nn.Module, dict]]) -> list[tuple[nn.Module, dict]]:
    """SHOT's adaptation of the source models `fits` on the pool alone (`shot`); each model's
    history gets the stage's as `adaptation`."""
    recipe = shot.adapt_recipe(spec.trainer, source, train, spec.trainable.kind == "last_block")
    pool = stacked.Members(data.pool_rows, np.zeros(len(data.pool_rows), np.int64))
    plan = stacked.shuffled(len(data.pool_rows), train.batch_size)
    adapted = fit_models(recipe, data.table, [pool] * len(fits), [plan] * len(fits), seeds,
                         np.zeros(0, np.int64), [net for net, _ in fits])
    return [(net, {**h, "adaptation": h2}) for (_, h), (net, h2) in zip(fits, adapted, strict=True)]


def label_pool(spec: Variant, model: nn.Module, data: Data) -> tuple[np.ndarray, np.ndarray,
                                                                      np.ndarray, dict[str, Any]]:
    """(pool rows, class indices, confidences, diagnostics) of `model`'s pseudo-labels."""
    logits = head.logits(model, data.pool)
    probs = softmax(logits)
    candidates, extra = None, {}
    select = SELECTORS[type(spec.pseudo_labels)]
    if spec.reject is not None:
        candidates = pseudo_labels.in_domain(logits, spec.reject.score, spec.reject.share)
        plain = pseudo_labels.diagnostics(*select(probs, spec.pseudo_labels, None), data.pool_true,
                                          data.pool_in_domain, data.classes)
        ind = np.asarray(data.pool_in_domain, bool)
        rejected = np.setdiff1d(np.arange(len(probs)), candidates)
        extra = {"ood_score": spec.reject.score, "rejected": len(rejected),
                 "ood_rejected": int((~ind[rejected]).sum()),
                 "ood_accepted_without_rejection": plain["ood_accepted"],
                 "ood_accepted_share_without_rejection": plain["ood_accepted_share"]}
    idx, labels = select(probs, spec.pseudo_labels, candidates)
    diag = pseudo_labels.diagnostics(idx, labels, data.pool_true, data.pool_in_domain, data.classes)
    return idx, labels, probs[idx].max(1), {"threshold": spec.pseudo_labels.threshold,
                                            "rule": spec.pseudo_labels.kind, **diag, **extra}


def _accuracy(model: nn.Module, data: Labeled) -> float:
    return float((head.logits(model, data.X).argmax(1) == data.y).mean())


def train_pseudo_labelled(specs: dict[str, Variant], data: Data,
                          labellers: dict[str, Sequence[nn.Module]], train: Train,
                          seeds: Sequence[int]) -> dict[str, list[Fitted]]:
    """Rounds of (each model labels the pool, fresh heads train on its split + pseudo-labels),
    every model still in a round trained in one pass; per model, the round `rounds.chosen_by`
    prefers. `labellers[name][k]` labels the pool for variant `name`'s seed k in round 1."""
    models = {name: list(labellers[name]) for name in specs}
    rounds: dict[str, list[list[dict[str, Any]]]] = {n: [[] for _ in seeds] for n in specs}
    kept: dict[str, list[list[Fitted]]] = {n: [[] for _ in seeds] for n in specs}
    for r in range(1, max(spec.rounds.count for spec in specs.values()) + 1):
        active = [name for name, spec in specs.items() if spec.rounds.count >= r]
        picked, members, plans, vals = {}, {}, {}, {}
        for name in active:
            spec = specs[name]
            picked[name] = [label_pool(spec, m, data) for m in models[name]]
            members[name], plans[name], vals[name] = [], [], []
            for s, (idx, lab, _, _) in zip(seeds, picked[name], strict=True):
                if len(idx) == 0:
                    raise ValueError(f"{name}: no pool image was pseudo-labeled in round {r} "
                                     f"(seed {s}); lower the pseudo_labels threshold")
                split, val, n_synthetic = data.splits(spec, s)
                # The pseudo-labeled pool images come last: with mixing, they are real images.
                m = stacked.Members(np.r_[split.rows, data.pool_offset + idx],
                                    np.r_[split.labels, lab])
                members[name].append(m)
                plans[name].append(plan_for(spec, m, n_synthetic, train.batch_size))
                vals[name].append(val)
        # One pass per trainable part (the study's head: every variant still in a round).
        passes: dict[str, list[str]] = {}
        for name in active:
            passes.setdefault(repr(specs[name].trainable), []).append(name)
        for names in passes.values():
            recipe = trainable(head_recipe(len(data.classes), data.feature_dim, train),
                               specs[names[0]].trainable, data.block)
            fitted = iter(fit_models(recipe, data.table, [m for n in names for m in members[n]],
                                     [p for n in names for p in plans[n]],
                                     [s for _ in names for s in seeds], data.pool_rows))
            for name in names:
                models[name] = []
                for k in range(len(seeds)):
                    net, hist = next(fitted)
                    idx, lab, conf, diag = picked[name][k]
                    models[name].append(net)
                    rounds[name][k].append({
                        "round": r, "val_acc": _accuracy(net, vals[name][k]),
                        "pool_entropy": criteria.mean_entropy(head.predict_proba(net, data.pool)),
                        "pseudo_label": diag})
                    accepted = [{"path": data.pool_paths[i], "label": data.classes[c],
                                 "confidence": float(p), "round": r}
                                for i, c, p in zip(idx, lab, conf, strict=True)]
                    kept[name][k].append(Fitted(net, members[name][k], {"history": hist},
                                                accepted))
    out: dict[str, list[Fitted]] = {}
    for name, spec in specs.items():
        out[name] = []
        for rs, candidates in zip(rounds[name], kept[name], strict=True):
            best = min(range(len(rs)), key=lambda i: ROUND_CHOICE[spec.rounds.chosen_by](rs[i]))
            chosen = candidates[best]
            chosen.extra["pseudo_label"] = rs[best]["pseudo_label"]
            if spec.rounds.count > 1:
                chosen.extra["self_training"] = {"chosen_round": best + 1,
                                                 "chosen_by": spec.rounds.chosen_by, "rounds": rs}
            out[name].append(chosen)
    return out


def load_data(source: ImageSet, pool: ImageSet, real_test: ImageSet, target_labeled: ImageSet,
              kinds: dict[str, str], classes: Sequence[str], draws: str | None = None,
              backbone: str | None = None) -> Data:
    """A job's features of every image set, each checked to be of the kind `kinds` names; the
    budget draws (`draws`, when a variant reads a labeled budget) and, for block inputs, the
    pretrained last block of the backbone (`backbone`: its info file)."""
    labeled = target_labeled.rows()
    pool_rows = pool.rows()  # true_label / in_domain: diagnostics only
    paths = [r["path"] for r in pool_rows]
    source_rows = source.rows()
    oracle_rows = [r for r in labeled if r["split"] == "oracle"]
    block = None
    if kinds["source"] == "block":
        if backbone is None:
            raise ValueError("block inputs need the backbone (its pretrained last block): the "
                             "rule must name input backbone")
        block = last_block_weights(load_backbone(read_json(backbone)["path"]).features)
    return Data(
        classes=list(classes), source_rows=source_rows,
        source=source.labeled(source_rows, classes, kinds["source"]),
        oracle=target_labeled.labeled(oracle_rows, classes, kinds["target_labeled"]),
        oracle_paths=[r["path"] for r in oracle_rows],
        pool=pool.lookup(paths, kinds["pool"]), pool_paths=paths,
        pool_true=[r["true_label"] for r in pool_rows],
        pool_in_domain=[int(r["in_domain"]) for r in pool_rows],
        test=real_test.labeled(real_test.rows(), classes, kinds["real_test"]),
        target_val=target_labeled.labeled([r for r in labeled if r["split"] == "val"], classes,
                                          kinds["target_labeled"]),
        draws=read_csv(draws) if draws else [], draws_file=draws or "", block=block)


def fit_variants(specs: dict[str, Variant], data: Data, train: Train, seeds: Sequence[int],
                 labellers: dict[str, Sequence[nn.Module]] | None = None,
                 starts: dict[str, Sequence[nn.Module]] | None = None) -> dict[str, list[Fitted]]:
    """Every seed's model of every variant of `specs` (see the module doc), by variant;
    `labellers[name][k]` gives variant `name`'s seed k its first pseudo-labels, `starts[name][k]`
    its starting weights (bridged transfer)."""
    labellers, starts = labellers or {}, starts or {}
    out: dict[str, list[Fitted]] = {}
    for need, given, what in ((lambda s: s.pseudo_labels is not None, labellers,
                               "pseudo-labels need one labelling model"),
                              (lambda s: s.target_labels is not None
                               and s.target_labels.use == "bridged", starts,
                               "bridged transfer needs one stage-1 model")):
        missing = [n for n, s in specs.items() if need(s) and len(given.get(n, ())) != len(seeds)]
        if missing:
            raise ValueError(f"{missing}: {what} per seed")
    with_labels = {n: s for n, s in specs.items() if s.pseudo_labels is not None}
    if with_labels:
        out.update(train_pseudo_labelled(with_labels, data, labellers, train, seeds))
    rest = {n: s for n, s in specs.items() if s.pseudo_labels is None}
    if rest:
        out.update(_train_passes(rest, data, train, seeds, starts))
    return {name: out[name] for name in specs}


def representation(model: nn.Module, X: np.ndarray) -> np.ndarray:
    """The features a model's classifier reads: a learned bottleneck's or block's, else the
    cached ones."""
    return head.embed(model, X) if isinstance(model, head.BottleneckNet | head.BlockNet) else X


def _load(checkpoints: Sequence[str], classes: Sequence[str]) -> list[nn.Module]:
    models = []
    for path in checkpoints:
        model, model_classes = head.load(path)
        if model_classes != list(classes):
            raise ValueError(f"{path}: classes {model_classes} differ from the study's {classes}; "
                             "rerun its rule")
        models.append(model)
    return models


def _per_variant(files: Sequence[str], names: Sequence[Any], n: int) -> dict[Any, list[str]]:
    """`files` laid out variant by variant (`names`), `n` per variant -> variant -> its files."""
    if len(files) != len(names) * n:
        raise ValueError(f"{len(files)} files for {len(names)} variants x {n} seeds")
    return {name: list(files[i * n:(i + 1) * n]) for i, name in enumerate(names)}


def correct_prior(part: Prior, fit: Fitted, data: Data, val: Labeled) -> dict[str, Any]:
    """Fold the label-shift correction of `part` into `fit.model` (`prior`): the target prior
    estimated on the pool's predictions against the training labels' class frequencies;
    returns the record of its metrics, with the in-domain pool's true prior (diagnostic only:
    never read by the estimate)."""
    c = len(data.classes)
    source = np.bincount(fit.train.labels, minlength=c).astype(np.float64)
    if (source == 0).any():
        raise ValueError("a label-shift correction needs every class among the training labels")
    source /= source.sum()
    probs = head.predict_proba(fit.model, data.pool)
    estimated, record = PRIOR_ESTIMATES[part.kind](part, fit.model, probs, source, val)
    head.shift_logits(fit.model, prior.log_ratio(estimated, source))
    true = [t for t, d in zip(data.pool_true, data.pool_in_domain, strict=True) if d]
    counts = np.array([true.count(k) for k in data.classes], np.float64)
    return {"kind": part.kind, **record, "source": source.tolist(),
            "estimated": estimated.tolist(),
            "pool_true_in_domain": (counts / max(counts.sum(), 1)).tolist()}


class View:
    """One model's inputs, in the space its classifier reads (`model`): the cached features, or
    for a block model its trained block's pooled output -- every image goes through the block
    once, however many scores read it (the block is ~1000x the classifier)."""

    def __init__(self, model: nn.Module, data: Data) -> None:
        block = isinstance(model, head.BlockNet)
        self.model = model.classifier if block else model
        self.data = data
        self._map = (lambda X: head.pooled(model, X)) if block else (lambda X: X)
        self._rows: dict[bytes, np.ndarray] = {}
        self.test = self.labeled(data.test)

    def rows(self, rows: np.ndarray) -> np.ndarray:
        """Table rows in the view (each distinct set of rows mapped once)."""
        key = rows.tobytes()
        if key not in self._rows:
            self._rows[key] = self._map(self.data.features(rows))
        return self._rows[key]

    def labeled(self, split: Labeled) -> Labeled:
        return Labeled(self._map(split.X), split.y)

    @cached_property
    def pool(self) -> np.ndarray:
        return self._map(self.data.pool)

    @cached_property
    def target_val(self) -> Labeled:
        return self.labeled(self.data.target_val)

    def representation(self, X: np.ndarray) -> np.ndarray:
        """What the label classifier's last layer reads, of the view's inputs X."""
        return representation(self.model, X)


def write_seed(fitted: Fitted, view: View, val: Labeled, out: dict[str, str],
               metrics: dict[str, Any], config: prov.Config,
               dev_weights: np.ndarray | None = None, mix_seed: int = 0) -> dict[str, Any]:
    """Score one model (in its `view`) on its training split, `val` (in the view) and the test
    set (per-image test predictions kept for the summary's bootstrap) and, when no real label
    trained it, on the model-selection criteria (DEV with the val rows' density ratios
    `dev_weights`; MixVal mixes the view's pool inputs, pairs drawn from `mix_seed`; its pool
    predictions kept for EnsV, which compares the candidates in the summary); write its
    checkpoint, metrics, provenance and accepted pseudo-labels (`out`: file kind -> path)."""
    model, classes = view.model, view.data.classes
    train = Labeled(view.rows(fitted.train.rows), fitted.train.labels)
    val_probs = None
    for name, split in (("train", train), ("val", val), ("test", view.test)):
        probs = head.predict_proba(model, split.X)
        metrics[name] = head.scores(split.y, probs, classes)
        val_probs = probs if name == "val" else val_probs
    metrics["test"]["pred"] = probs.argmax(1).tolist()
    if metrics["labels"] == "synthetic":  # a candidate of label-free model selection
        pool = head.predict_proba(model, view.pool)
        val_loss = -np.log(np.clip(val_probs[np.arange(len(val.y)), val.y], 1e-15, None))
        if dev_weights is None:
            raise ValueError("a label-free model's DEV needs its val rows' density ratios")
        metrics["criteria"] = {"source_val_acc": metrics["val"]["acc"],
                                "target_val_acc": _accuracy(model, view.target_val),
                                **criteria.pool_scores(pool),
                                "mixval": criteria.mixval(lambda X: head.predict_proba(model, X),
                                                          view.pool, mix_seed),
                                "dev": criteria.dev(val_loss, dev_weights)}
        metrics["pool_probs"] = np.round(pool, 5).tolist()  # EnsV (summary)
    head.save(fitted.model, out["heads"], classes)
    write_json(metrics, out["metrics"])
    write_csv(out["accepted"], fitted.accepted, ["path", "label", "confidence", "round"])
    prov.write(out["provenance"], config, seed=metrics["seed"], variant=metrics["variant"])
    return metrics


def _distance(view: View, split: stacked.Members, domain_sample: int, data_seed: int) -> float:
    """Proxy A-distance between a training split and the pool, in the model's representation."""
    return proxy_a_distance(view.representation(view.rows(split.rows)),
                            view.representation(view.pool), domain_sample, data_seed)


def _density_ratio(view: View, val: Labeled, split: stacked.Members, per_domain: int,
                   data_seed: int) -> np.ndarray:
    """DEV's density ratios of the val rows, in the model's representation."""
    return density_ratio(*(view.representation(X) for X in (val.X, view.rows(split.rows),
                                                              view.pool)), data_seed, per_domain)


def _once(store: dict[bytes, Any], key: bytes | None, compute: Callable[[], Any]) -> Any:
    """`compute()`, kept in `store` under `key` (None: not kept)."""
    if key is None:
        return compute()
    if key not in store:
        store[key] = compute()
    return store[key]


def train_variants(source: ImageSet, pool: ImageSet, real_test: ImageSet, target_labeled: ImageSet,
                   heads: list[str], metrics: list[str], provenance: list[str], accepted: list[str],
                   *, variants: dict[str, Variant], train: Train, domain_sample: int,
                   data_seed: int, classes: list[str], seeds: list[int],
                   labellers: dict[str, str] | None = None, labelling_models: list[str] = (),
                   shares: dict[str, str] | None = None, shared_models: list[str] = (),
                   starts: dict[str, str] | None = None, start_models: list[str] = (),
                   ensembles: dict[str, list[str]] | None = None, ensemble_models: list[str] = (),
                   draws: str | None = None, backbone: str | None = None) -> None:
    """Stage: every seed of every variant of one training job (`variants`: name -> parts,
    all of one pair of feature kinds).

    Output files (`heads`, `metrics`, `provenance`, `accepted`) are laid out variant by
    variant in `variants` order, seed by seed within each. `labellers`: variant -> the
    variant whose models give its first pseudo-labels, their checkpoints in
    `labelling_models` (per entry of `labellers`, per seed); `shares`: variant -> the
    variant that trains its model, whose checkpoints are `shared_models`; `starts`:
    variant -> the stage-1 variant its bridged transfer continues, checkpoints in
    `start_models` (likewise); `ensembles`: ensemble variant -> its members, their
    checkpoints in `ensemble_models` (per ensemble, per member, per seed). A variant with a
    `prior` part gets its label-shift correction last (`correct_prior`). `draws`: the budget
    draws of labeled photos; `backbone`:
    the backbone's info file, for the pretrained last block of block-input jobs.

    The proxy A-distance between the training split and the pool (`domain_sample` images
    per domain; 0: not measured, as in the budget track) is measured in the representation
    each model's classifier reads: per model for a learned bottleneck or block, once per
    training split for the cached features.
    """
    kinds = next(iter(variants.values())).feature_kinds
    if any(v.feature_kinds != kinds for v in variants.values()):
        raise ValueError("a training job's variants must read the same feature kinds")
    data = load_data(source, pool, real_test, target_labeled, kinds, classes, draws, backbone)
    labellers, shares, starts = labellers or {}, shares or {}, starts or {}
    ensembles = ensembles or {}
    labelling = _per_variant(labelling_models, list(labellers), len(seeds))
    sharing = _per_variant(shared_models, list(shares), len(seeds))
    starting = _per_variant(start_models, list(starts), len(seeds))
    members = _per_variant(ensemble_models, [(e, m) for e, ms in ensembles.items() for m in ms],
                           len(seeds))
    fitted = fit_variants({n: v for n, v in variants.items()
                           if n not in shares and n not in ensembles}, data, train,
                          seeds, {n: _load(labelling[n], classes) for n in labellers},
                          {n: _load(starting[n], classes) for n in starts})
    for name, ms in ensembles.items():
        nets = {m: _load(members[name, m], classes) for m in ms}
        every_seed = variants[name].ensemble.seeds
        fitted[name] = []
        for k, s in enumerate(seeds):
            ks = range(len(seeds)) if every_seed else [k]
            fitted[name].append(Fitted(
                head.Ensemble.of([nets[m][j] for m in ms for j in ks]),
                data.splits(variants[name], s)[0],
                {"ensemble": {"members": ms, "seeds": [seeds[j] for j in ks],
                              "checkpoints": [members[name, m][j] for m in ms for j in ks]}}))
    for name, paths in sharing.items():
        fitted[name] = [Fitted(m, data.splits(variants[name], s)[0],
                               {"shared_with": {"variant": shares[name], "checkpoint": path}})
                        for s, m, path in zip(seeds, _load(paths, classes), paths, strict=True)]
    for name, paths in starting.items():
        for fit, path in zip(fitted[name], paths, strict=True):
            fit.extra["start"] = {"variant": starts[name], "checkpoint": path}
    for name, spec in variants.items():
        if spec.prior is not None:
            for s, fit in zip(seeds, fitted[name], strict=True):
                fit.extra["prior"] = correct_prior(spec.prior, fit, data,
                                                   data.splits(spec, s)[1])
    outs = {kind: _per_variant(files, list(variants), len(seeds))
            for kind, files in (("heads", heads), ("metrics", metrics),
                                ("provenance", provenance), ("accepted", accepted))}
    pads: dict[bytes, Any] = {}
    weights: dict[bytes, Any] = {}
    for name, spec in variants.items():
        config = {"spec": spec, "train": train, "domain_sample": domain_sample,
                  "data_seed": data_seed, "classes": classes}
        for k, (seed, fit) in enumerate(zip(seeds, fitted[name], strict=True)):
            split, val, n_synthetic = data.splits(spec, seed)
            view = View(fit.model, data)
            val = view.labeled(val)
            # A bottleneck or block model has a representation of its own; the cached
            # features are one per training split, measured once.
            own = isinstance(fit.model, head.BottleneckNet | head.BlockNet)
            key = split.rows.tobytes()
            extra: dict[str, Any] = {}
            if domain_sample:
                extra["proxy_a_distance"] = _once(pads, None if own else key, partial(
                    _distance, view, split, domain_sample, data_seed))
            dev_weights = None
            if spec.label_free:  # DEV's density ratio of the val rows
                dev_weights = _once(weights, None if own else key, partial(
                    _density_ratio, view, val, split, domain_sample or DEV_SAMPLE, data_seed))
            real = len(split.rows) - n_synthetic  # labeled real photos (pseudo-labels are not)
            labels = spec.target_labels
            m = write_seed(fit, view, val, {kind: files[name][k] for kind, files in outs.items()},
                           {"seed": seed, "variant": name, "labels": spec.labels,
                            "n_train": len(fit.train.rows), "real_labels": real,
                            "target_labels": None if labels is None else {
                                "use": labels.use, "per_class": labels.per_class,
                                "photos_per_class": real / len(classes), "draw": seed},
                            "method": spec.model_dump(mode="json"), **extra, **fit.extra},
                           config, dev_weights, data_seed)
            log.info("%s seed %d: train %.4f val %.4f test %.4f%s", name, seed,
                     m["train"]["acc"], m["val"]["acc"], m["test"]["acc"],
                     f" PAD {extra['proxy_a_distance']:.3f}" if extra else "")
