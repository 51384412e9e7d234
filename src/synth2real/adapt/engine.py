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
    labels         synthetic: the source train split of `source.size`; target: the
                   labeled target photos of the oracle split
    trainer        head: the study's head, every such variant of the job in one pass;
                   mcc | coral | im: a bottleneck net with a pool loss (`objectives`);
                   dann (`dann`)
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
feed only the diagnostics.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from synth2real import provenance as prov
from synth2real.adapt import dann, mixing, objectives, pseudo_labels
from synth2real.analysis.domain import proxy_a_distance
from synth2real.config import Balanced, Coral, Dann, Head, Im, Mcc, Threshold, Train, Variant
from synth2real.data.imagesets import ImageSet, Labeled
from synth2real.data.manifests import write_csv
from synth2real.model import criteria, head, stacked
from synth2real.predict import softmax
from synth2real.store import write_json

log = logging.getLogger(__name__)

# Pseudo-label selection: (pool probabilities [P, C], settings, candidate rows or None)
# -> (selected pool rows, their class indices).
Selector = Callable[[np.ndarray, Any, np.ndarray | None], tuple[np.ndarray, np.ndarray]]
SELECTORS: dict[type, Selector] = {
    Threshold: lambda probs, s, cand: pseudo_labels.threshold(probs, s.threshold, cand),
    Balanced: lambda probs, s, cand: pseudo_labels.balanced(probs, s.share, s.threshold, cand),
}

# `rounds.chosen_by`: a round's record -> its sort key (the smallest is kept; ties: earliest).
ROUND_CHOICE: dict[str, Callable[[dict[str, Any]], float]] = {
    "val_acc": lambda r: -r["val_acc"],
    "pool_entropy": lambda r: r["pool_entropy"],
}


@dataclass
class Data:
    """The features a training job reads, in its feature kinds; pool labels for diagnostics.

    The trainers index one feature table (`table`): the source rows, then the oracle's
    labeled target photos, then the pool (from `pool_offset`).
    """

    classes: list[str]
    source_rows: list[dict[str, str]]  # the source manifest (rank, split, label)
    source: Labeled  # every source image of the manifest, in its order
    oracle: Labeled  # the labeled target photos of split oracle
    pool: np.ndarray  # unlabeled real pool [P, D]
    pool_paths: list[str]
    pool_true: list[str]  # diagnostics only
    pool_in_domain: list[int]  # diagnostics only
    test: Labeled  # real test: scored after training, never selected on
    target_val: Labeled  # labeled target val: model-selection criteria only
    table: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        self.table = torch.from_numpy(np.ascontiguousarray(
            np.concatenate([self.source.X, self.oracle.X, self.pool]), np.float32))

    @property
    def pool_offset(self) -> int:
        return len(self.source) + len(self.oracle)

    @property
    def pool_rows(self) -> np.ndarray:
        return self.pool_offset + np.arange(len(self.pool))

    def splits(self, spec: Variant) -> tuple[stacked.Members, Labeled]:
        """The variant's training split (as table rows and labels) and its validation split."""
        if spec.labels == "target":
            rows = len(self.source) + np.arange(len(self.oracle))
            return stacked.Members(rows, self.oracle.y), self.target_val
        size = spec.source.size
        chosen = {split: np.array([i for i, r in enumerate(self.source_rows)
                                   if int(r["rank"]) < size and r["split"] == split], np.int64)
                  for split in ("train", "val")}
        train = chosen["train"]
        val = Labeled(self.source.X[chosen["val"]], self.source.y[chosen["val"]])
        return stacked.Members(train, self.source.y[train]), val

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


def fit_heads(table: torch.Tensor, n_classes: int, members: Sequence[stacked.Members],
              plans: Sequence[stacked.Plan], seeds: Sequence[int],
              train: Train) -> list[tuple[nn.Module, dict]]:
    """A fresh study head per model k (of seed `seeds[k]`) on `members[k]` (rows of `table`),
    minibatches from `plans[k]`: all in one batched pass."""
    nets = stacked.seeded(lambda: head.Head(n_classes, train.dropout, table.shape[1]), seeds)
    hists = stacked.fit(nets, [stacked.Stream(s) for s in seeds], members, plans, table,
                        stacked.head_loss(train.dropout), stacked.Schedule.of(train))
    return [(net, _history(h)) for net, h in zip(nets, hists, strict=True)]


# A trainer: the variants of one `trainer` kind, and the data -> each variant's models, per seed.
TrainerFn = Callable[[dict[str, Variant], Data, Train, Sequence[int]], dict[str, list[Fitted]]]


def _train_heads(specs: dict[str, Variant], data: Data, train: Train,
                 seeds: Sequence[int]) -> dict[str, list[Fitted]]:
    """The study's head: every seed of every variant in one pass (each on its own split)."""
    splits = {name: data.splits(spec)[0] for name, spec in specs.items()}
    members = [splits[name] for name in specs for _ in seeds]
    plans = [stacked.shuffled(len(m.rows), train.batch_size) for m in members]
    fitted = iter(fit_heads(data.table, len(data.classes), members, plans,
                            [s for _ in specs for s in seeds], train))
    return {name: [Fitted(net, splits[name], {"history": h})
                   for _, (net, h) in zip(seeds, fitted)] for name in specs}


def _per_variant_pass(fit: Callable[..., tuple[list[nn.Module], list[stacked.History]]]) -> TrainerFn:
    """A trainer of nets fitted with the unlabeled pool: each variant's seeds in one pass of
    `fit` (its trainer settings, training split, the pool's rows, the feature table)."""
    def train_each(specs: dict[str, Variant], data: Data, train: Train,
                   seeds: Sequence[int]) -> dict[str, list[Fitted]]:
        out = {}
        for name, spec in specs.items():
            members = data.splits(spec)[0]
            nets, hists = fit(spec.trainer, members, data.pool_rows, data.table,
                              len(data.classes), train, seeds)
            out[name] = [Fitted(n, members, {"history": _history(h)})
                         for n, h in zip(nets, hists, strict=True)]
        return out
    return train_each


# The `trainer` part, by its settings model.
TRAINERS: dict[type, TrainerFn] = {
    Head: _train_heads,
    **dict.fromkeys((Mcc, Coral, Im), _per_variant_pass(objectives.train_objective)),
    Dann: _per_variant_pass(dann.train_dann),
}


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
        picked, members, plans = {}, [], []
        for name in active:
            spec, (split, val) = specs[name], data.splits(specs[name])
            picked[name] = [label_pool(spec, m, data) for m in models[name]]
            for s, (idx, lab, _, _) in zip(seeds, picked[name], strict=True):
                if len(idx) == 0:
                    raise ValueError(f"{name}: no pool image was pseudo-labeled in round {r} "
                                     f"(seed {s}); lower the pseudo_labels threshold")
                members.append(stacked.Members(np.r_[split.rows, data.pool_offset + idx],
                                               np.r_[split.labels, lab]))
                plans.append(mixing.mixed(len(split.rows), len(idx), spec.mixing.ratio,
                                          train.batch_size) if spec.mixing
                             else stacked.shuffled(len(members[-1].rows), train.batch_size))
        fitted = iter(zip(members, fit_heads(data.table, len(data.classes), members, plans,
                                             [s for _ in active for s in seeds], train)))
        for name in active:
            val = data.splits(specs[name])[1]
            models[name] = []
            for k in range(len(seeds)):
                m, (net, hist) = next(fitted)
                idx, lab, conf, diag = picked[name][k]
                models[name].append(net)
                rounds[name][k].append({
                    "round": r, "val_acc": _accuracy(net, val),
                    "pool_entropy": criteria.mean_entropy(head.predict_proba(net, data.pool)),
                    "pseudo_label": diag})
                accepted = [{"path": data.pool_paths[i], "label": data.classes[c],
                             "confidence": float(p), "round": r}
                            for i, c, p in zip(idx, lab, conf, strict=True)]
                kept[name][k].append(Fitted(net, m, {"history": hist}, accepted))
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
              kinds: dict[str, str], classes: Sequence[str]) -> Data:
    """A job's features of every image set, each checked to be of the kind `kinds` names."""
    labeled = target_labeled.rows()
    pool_rows = pool.rows()  # true_label / in_domain: diagnostics only
    paths = [r["path"] for r in pool_rows]
    source_rows = source.rows()
    return Data(
        classes=list(classes), source_rows=source_rows,
        source=source.labeled(source_rows, classes, kinds["source"]),
        oracle=target_labeled.labeled([r for r in labeled if r["split"] == "oracle"], classes,
                                      kinds["target_labeled"]),
        pool=pool.lookup(paths, kinds["pool"]), pool_paths=paths,
        pool_true=[r["true_label"] for r in pool_rows],
        pool_in_domain=[int(r["in_domain"]) for r in pool_rows],
        test=real_test.labeled(real_test.rows(), classes, kinds["real_test"]),
        target_val=target_labeled.labeled([r for r in labeled if r["split"] == "val"], classes,
                                          kinds["target_labeled"]))


def fit_variants(specs: dict[str, Variant], data: Data, train: Train, seeds: Sequence[int],
                 labellers: dict[str, Sequence[nn.Module]] | None = None) -> dict[str, list[Fitted]]:
    """Every seed's model of every variant of `specs` (see the module doc), by variant;
    `labellers[name][k]` gives variant `name`'s seed k its first pseudo-labels."""
    labellers = labellers or {}
    out: dict[str, list[Fitted]] = {}
    with_labels = {n: s for n, s in specs.items() if s.pseudo_labels is not None}
    if with_labels:
        missing = [n for n in with_labels if len(labellers.get(n, ())) != len(seeds)]
        if missing:
            raise ValueError(f"{missing}: pseudo-labels need one labelling model per seed")
        out.update(train_pseudo_labelled(with_labels, data, labellers, train, seeds))
    by_trainer: dict[type, dict[str, Variant]] = {}
    for name, spec in specs.items():
        if spec.pseudo_labels is None:
            by_trainer.setdefault(type(spec.trainer), {})[name] = spec
    for kind, group in by_trainer.items():
        out.update(TRAINERS[kind](group, data, train, seeds))
    return {name: out[name] for name in specs}


def representation(model: nn.Module, X: np.ndarray) -> np.ndarray:
    """The features a model's classifier reads: a learned bottleneck's, else the cached ones."""
    return head.embed(model, X) if isinstance(model, head.BottleneckNet) else X


def _load(checkpoints: Sequence[str], classes: Sequence[str]) -> list[nn.Module]:
    models = []
    for path in checkpoints:
        model, model_classes = head.load(path)
        if model_classes != list(classes):
            raise ValueError(f"{path}: classes {model_classes} differ from the study's {classes}; "
                             "rerun its rule")
        models.append(model)
    return models


def _per_variant(files: Sequence[str], names: Sequence[str], n: int) -> dict[str, list[str]]:
    """`files` laid out variant by variant (`names`), `n` per variant -> variant -> its files."""
    if len(files) != len(names) * n:
        raise ValueError(f"{len(files)} files for {len(names)} variants x {n} seeds")
    return {name: list(files[i * n:(i + 1) * n]) for i, name in enumerate(names)}


def write_seed(fitted: Fitted, data: Data, val: Labeled, out: dict[str, str],
               metrics: dict[str, Any], config: prov.Config) -> dict[str, Any]:
    """Score one model on its training split, `val` and the test set (per-image test
    predictions kept for the summary's bootstrap) and, unless it learned from target labels,
    on the model-selection criteria; write its checkpoint, metrics, provenance and accepted
    pseudo-labels (`out`: file kind -> path)."""
    model, classes = fitted.model, data.classes
    train = Labeled(data.features(fitted.train.rows), fitted.train.labels)
    for name, split in (("train", train), ("val", val), ("test", data.test)):
        probs = head.predict_proba(model, split.X)
        metrics[name] = head.scores(split.y, probs, classes)
    metrics["test"]["pred"] = probs.argmax(1).tolist()
    if metrics["labels"] != "target":
        metrics["criteria"] = {"source_val_acc": metrics["val"]["acc"],
                                "target_val_acc": _accuracy(model, data.target_val),
                                **criteria.pool_scores(head.predict_proba(model, data.pool))}
    head.save(model, out["heads"], classes)
    write_json(metrics, out["metrics"])
    write_csv(out["accepted"], fitted.accepted, ["path", "label", "confidence", "round"])
    prov.write(out["provenance"], config, seed=metrics["seed"], variant=metrics["variant"])
    return metrics


def _distance(model: nn.Module, data: Data, split: stacked.Members, domain_sample: int,
              data_seed: int) -> float:
    """Proxy A-distance between a training split and the pool, in `model`'s representation."""
    return proxy_a_distance(representation(model, data.features(split.rows)),
                            representation(model, data.pool), domain_sample, data_seed)


def train_variants(source: ImageSet, pool: ImageSet, real_test: ImageSet, target_labeled: ImageSet,
                   heads: list[str], metrics: list[str], provenance: list[str], accepted: list[str],
                   *, variants: dict[str, Variant], train: Train, domain_sample: int,
                   data_seed: int, classes: list[str], seeds: list[int],
                   labellers: dict[str, str] | None = None, labelling_models: list[str] = (),
                   shares: dict[str, str] | None = None, shared_models: list[str] = ()) -> None:
    """Stage: every seed of every variant of one training job (`variants`: name -> parts,
    all of one pair of feature kinds).

    Output files (`heads`, `metrics`, `provenance`, `accepted`) are laid out variant by
    variant in `variants` order, seed by seed within each. `labellers`: variant -> the
    variant whose models give its first pseudo-labels, their checkpoints in
    `labelling_models` (per entry of `labellers`, per seed); `shares`: variant -> the
    variant that trains its model, whose checkpoints are `shared_models` (likewise). The
    proxy A-distance between the training split and the pool is measured in the
    representation each model's classifier reads: per model for a learned bottleneck,
    once per training split for the cached features.
    """
    kinds = next(iter(variants.values())).feature_kinds
    if any(v.feature_kinds != kinds for v in variants.values()):
        raise ValueError("a training job's variants must read the same feature kinds")
    data = load_data(source, pool, real_test, target_labeled, kinds, classes)
    labellers, shares = labellers or {}, shares or {}
    labelling = _per_variant(labelling_models, list(labellers), len(seeds))
    sharing = _per_variant(shared_models, list(shares), len(seeds))
    fitted = fit_variants({n: v for n, v in variants.items() if n not in shares}, data, train,
                          seeds, {n: _load(labelling[n], classes) for n in labellers})
    for name, paths in sharing.items():
        fitted[name] = [Fitted(m, data.splits(variants[name])[0],
                               {"shared_with": {"variant": shares[name], "checkpoint": path}})
                        for m, path in zip(_load(paths, classes), paths, strict=True)]
    outs = {kind: _per_variant(files, list(variants), len(seeds))
            for kind, files in (("heads", heads), ("metrics", metrics),
                                ("provenance", provenance), ("accepted", accepted))}
    pads: dict[bytes, float] = {}
    for name, spec in variants.items():
        config = {"spec": spec, "train": train, "domain_sample": domain_sample,
                  "data_seed": data_seed, "classes": classes}
        split, val = data.splits(spec)
        for k, (seed, fit) in enumerate(zip(seeds, fitted[name], strict=True)):
            if isinstance(fit.model, head.BottleneckNet):  # its own representation
                distance = _distance(fit.model, data, split, domain_sample, data_seed)
            else:  # the cached features: one distance per training split
                key = split.rows.tobytes()
                if key not in pads:
                    pads[key] = _distance(fit.model, data, split, domain_sample, data_seed)
                distance = pads[key]
            m = write_seed(fit, data, val, {kind: files[name][k] for kind, files in outs.items()},
                           {"seed": seed, "variant": name, "labels": spec.labels,
                            "n_train": len(fit.train.rows), "method": spec.model_dump(mode="json"),
                            "proxy_a_distance": distance, **fit.extra}, config)
            log.info("%s seed %d: train %.4f val %.4f test %.4f PAD %.3f", name, seed,
                     m["train"]["acc"], m["val"]["acc"], m["test"]["acc"], distance)
