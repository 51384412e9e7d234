"""The engine: every model of the study is a method variant, trained here from its parts.

Stage `train_variant` (rule train_variant, one job per variant, all its seeds in
one batched pass) builds a variant's models from its typed spec
(`synth2real.config.Variant`), on the image sets and feature kinds the rule hands
in, and writes each seed's checkpoint, metrics, provenance and accepted
pseudo-labels:

    shared model   the variant's training reads no pool image and an earlier variant
                   trains the same model (e.g. adabn = synthetic-1000 evaluated on AdaBN
                   features): that variant's checkpoints, scored on this one's features
    labels         synthetic: the source train split of `source.size`; target: the
                   labeled target photos of the oracle split
    trainer        head: the study's head (`stacked.head_loss`); mcc | coral | im: a
                   bottleneck net with a pool loss (`objectives`); dann (`dann`)
    pseudo_labels  per round, the current models label the pool (round 1: the source-only
                   variant's checkpoints, the rule's `labelling_models`) -> `reject` drops
                   the most out-of-domain images -> a selector keeps labels -> fresh heads
                   train on source + pseudo-labels, concatenated or `mixing`; the round
                   kept is chosen by `rounds.chosen_by`, never by test labels

Every part's function is registered in one table below (`SELECTORS`, `TRAINERS`,
`ROUND_CHOICE`; rejection scores in `pseudo_labels.OOD_SCORES`); a test fails
when a settings model of `synth2real.config.variants` has no entry. Every model
starts from the same seeded weights as the other variants' model of its seed,
so variants pair seed by seed. The real test set is scored after training;
nothing reads its labels, and the pool's labels feed only the diagnostics.
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
from synth2real.config import (
    Balanced,
    Coral,
    Dann,
    Head,
    Im,
    Mcc,
    Threshold,
    Train,
    Variant,
)
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


@dataclass
class Data:
    """The features one variant reads, in its feature kinds; pool labels for diagnostics only."""

    train: Labeled  # the labeled training split (source train, or the oracle's target photos)
    val: Labeled  # source val (target val for the oracle): the training-time check
    pool: np.ndarray  # unlabeled real pool [P, D]
    pool_paths: list[str]
    pool_true: list[str]  # diagnostics only
    pool_in_domain: list[int]  # diagnostics only
    test: Labeled  # real test: scored after training, never selected on
    target_val: Labeled  # labeled target val: model-selection criteria only

    def table(self) -> torch.Tensor:
        """The feature table the trainers index: the training split's rows, then the pool's."""
        return torch.from_numpy(np.ascontiguousarray(np.concatenate([self.train.X, self.pool]),
                                                     np.float32))

    @property
    def pool_rows(self) -> np.ndarray:
        return len(self.train) + np.arange(len(self.pool))

    def source_members(self) -> stacked.Members:
        return stacked.Members(np.arange(len(self.train)), self.train.y)


@dataclass
class Fitted:
    """One seed's trained model and what its metrics record beside the scores."""

    model: nn.Module
    train: Labeled  # the set it was trained on (source + accepted pseudo-labels, ...)
    extra: dict[str, Any] = field(default_factory=dict)
    accepted: list[dict[str, object]] = field(default_factory=list)  # its pseudo-labels


def _history(hist: stacked.History) -> dict[str, list[float]]:
    return {"lr": hist.lr, **hist.terms}


def fit_heads(data: Data, members: Sequence[stacked.Members], plans: Sequence[stacked.Plan],
              n_classes: int, train: Train, seeds: Sequence[int]) -> list[tuple[nn.Module, dict]]:
    """A fresh study head per seed, seed k on `members[k]` with minibatches from `plans[k]`."""
    nets = stacked.seeded(lambda: head.Head(n_classes, train.dropout, data.train.X.shape[1]),
                          seeds)
    hists = stacked.fit(nets, [stacked.Stream(s) for s in seeds], members, plans, data.table(),
                        stacked.head_loss(train.dropout), stacked.Schedule.of(train))
    return [(net, _history(h)) for net, h in zip(nets, hists, strict=True)]


def _train_head(spec: Variant, data: Data, n_classes: int, train: Train,
                seeds: Sequence[int]) -> list[Fitted]:
    plan = stacked.shuffled(len(data.train), train.batch_size)
    fitted = fit_heads(data, [data.source_members()] * len(seeds), [plan] * len(seeds),
                       n_classes, train, seeds)
    return [Fitted(net, data.train, {"history": h}) for net, h in fitted]


def _train_objective(spec: Variant, data: Data, n_classes: int, train: Train,
                     seeds: Sequence[int]) -> list[Fitted]:
    nets, hists = objectives.train_objective(spec.trainer, data.source_members(), data.pool_rows,
                                             data.table(), n_classes, train, seeds)
    return [Fitted(n, data.train, {"history": _history(h)}) for n, h in zip(nets, hists, strict=True)]


def _train_dann(spec: Variant, data: Data, n_classes: int, train: Train,
                seeds: Sequence[int]) -> list[Fitted]:
    nets, hists = dann.train_dann(spec.trainer, data.source_members(), data.pool_rows,
                                  data.table(), n_classes, train, seeds)
    return [Fitted(n, data.train, {"history": _history(h)}) for n, h in zip(nets, hists, strict=True)]


# The `trainer` part: trains one model per seed on the source split (and the pool).
TrainerFn = Callable[[Variant, Data, int, Train, Sequence[int]], list[Fitted]]
TRAINERS: dict[type, TrainerFn] = {Head: _train_head, Mcc: _train_objective,
                                   Coral: _train_objective, Im: _train_objective,
                                   Dann: _train_dann}

# `rounds.chosen_by`: a round's record -> its sort key (the smallest is kept; ties: earliest).
ROUND_CHOICE: dict[str, Callable[[dict[str, Any]], float]] = {
    "val_acc": lambda r: -r["val_acc"],
    "pool_entropy": lambda r: r["pool_entropy"],
}


def label_pool(spec: Variant, model: nn.Module, data: Data,
               classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """(pool rows, class indices, confidences, diagnostics) of `model`'s pseudo-labels."""
    logits = head.logits(model, data.pool)
    probs = softmax(logits)
    candidates, extra = None, {}
    select = SELECTORS[type(spec.pseudo_labels)]
    if spec.reject is not None:
        candidates = pseudo_labels.in_domain(logits, spec.reject.score, spec.reject.share)
        plain = pseudo_labels.diagnostics(*select(probs, spec.pseudo_labels, None), data.pool_true,
                                          data.pool_in_domain, classes)
        ind = np.asarray(data.pool_in_domain, bool)
        rejected = np.setdiff1d(np.arange(len(probs)), candidates)
        extra = {"ood_score": spec.reject.score, "rejected": len(rejected),
                 "ood_rejected": int((~ind[rejected]).sum()),
                 "ood_accepted_without_rejection": plain["ood_accepted"],
                 "ood_accepted_share_without_rejection": plain["ood_accepted_share"]}
    idx, labels = select(probs, spec.pseudo_labels, candidates)
    diag = pseudo_labels.diagnostics(idx, labels, data.pool_true, data.pool_in_domain, classes)
    return idx, labels, probs[idx].max(1), {"threshold": spec.pseudo_labels.threshold,
                                            "rule": spec.pseudo_labels.kind, **diag, **extra}


def _train_pseudo_labelled(spec: Variant, data: Data, labellers: Sequence[nn.Module],
                           classes: Sequence[str], train: Train, seeds: Sequence[int]) -> list[Fitted]:
    """Rounds of (label the pool with the current models, train fresh heads on source +
    pseudo-labels); per seed the round `rounds.chosen_by` prefers."""
    n_src = len(data.train)
    models = list(labellers)
    rounds: list[list[dict[str, Any]]] = [[] for _ in seeds]
    kept: list[list[Fitted]] = [[] for _ in seeds]
    for r in range(1, spec.rounds.count + 1):
        picked = [label_pool(spec, m, data, classes) for m in models]
        empty = [s for s, (idx, *_) in zip(seeds, picked, strict=True) if len(idx) == 0]
        if empty:
            raise ValueError(f"no pool image was pseudo-labeled in round {r} (seeds {empty}); "
                             "lower the pseudo_labels threshold")
        members = [stacked.Members(np.r_[np.arange(n_src), n_src + idx], np.r_[data.train.y, lab])
                   for idx, lab, _, _ in picked]
        plans = [mixing.mixed(n_src, len(idx), spec.mixing.ratio, train.batch_size)
                 if spec.mixing else stacked.shuffled(len(m.rows), train.batch_size)
                 for m, (idx, *_) in zip(members, picked, strict=True)]
        fitted = fit_heads(data, members, plans, len(classes), train, seeds)
        models = [net for net, _ in fitted]
        for k, ((net, hist), (idx, lab, conf, diag)) in enumerate(zip(fitted, picked, strict=True)):
            rounds[k].append({"round": r, "val_acc": _accuracy(net, data.val),
                              "pool_entropy": criteria.mean_entropy(head.predict_proba(net, data.pool)),
                              "pseudo_label": diag})
            accepted = [{"path": data.pool_paths[i], "label": classes[c], "confidence": float(p),
                         "round": r} for i, c, p in zip(idx, lab, conf, strict=True)]
            train_set = Labeled(np.concatenate([data.train.X, data.pool[idx]]), members[k].labels)
            kept[k].append(Fitted(net, train_set, {"history": hist}, accepted))
    out = []
    for rs, candidates in zip(rounds, kept, strict=True):
        best = min(range(len(rs)), key=lambda i: ROUND_CHOICE[spec.rounds.chosen_by](rs[i]))
        chosen = candidates[best]
        chosen.extra["pseudo_label"] = rs[best]["pseudo_label"]
        if spec.rounds.count > 1:
            chosen.extra["self_training"] = {"chosen_round": best + 1,
                                             "chosen_by": spec.rounds.chosen_by, "rounds": rs}
        out.append(chosen)
    return out


def _accuracy(model: nn.Module, data: Labeled) -> float:
    return float((head.logits(model, data.X).argmax(1) == data.y).mean())


def load_data(spec: Variant, source: ImageSet, pool: ImageSet, real_test: ImageSet,
              target_labeled: ImageSet, classes: Sequence[str]) -> Data:
    """The variant's features of every image set, each checked to be of the kind it reads."""
    kinds = spec.feature_kinds
    labeled = target_labeled.rows()
    target_val = target_labeled.labeled([r for r in labeled if r["split"] == "val"], classes,
                                        kinds["target_labeled"])
    if spec.labels == "target":
        train = target_labeled.labeled([r for r in labeled if r["split"] == "oracle"], classes,
                                       kinds["target_labeled"])
        val = target_val
    else:
        rows = [r for r in source.rows() if int(r["rank"]) < spec.source.size]
        train, val = (source.labeled([r for r in rows if r["split"] == split], classes,
                                     kinds["source"]) for split in ("train", "val"))
    pool_rows = pool.rows()  # true_label / in_domain: diagnostics only
    paths = [r["path"] for r in pool_rows]
    return Data(train=train, val=val, pool=pool.lookup(paths, kinds["pool"]), pool_paths=paths,
                pool_true=[r["true_label"] for r in pool_rows],
                pool_in_domain=[int(r["in_domain"]) for r in pool_rows],
                test=real_test.labeled(real_test.rows(), classes, kinds["real_test"]),
                target_val=target_val)


def fit_variant(spec: Variant, data: Data, classes: Sequence[str], train: Train,
                seeds: Sequence[int], labellers: Sequence[nn.Module] = ()) -> list[Fitted]:
    """Every seed's model of variant `spec` on `data` (see the module doc)."""
    if spec.pseudo_labels is not None:
        if len(labellers) != len(seeds):
            raise ValueError(f"pseudo-labels need one labelling model per seed ({len(seeds)}), "
                             f"got {len(labellers)}")
        return _train_pseudo_labelled(spec, data, labellers, classes, train, seeds)
    return TRAINERS[type(spec.trainer)](spec, data, len(classes), train, seeds)


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


def write_seed(fitted: Fitted, data: Data, classes: Sequence[str], checkpoint: str,
               metrics_json: str, provenance_json: str, accepted_csv: str,
               metrics: dict[str, Any], config: prov.Config) -> dict[str, Any]:
    """Score one seed's model on train, val and test (per-image test predictions kept for the
    summary's bootstrap) and, unless it learned from target labels, on the model-selection
    criteria; then write its checkpoint, metrics, provenance and accepted pseudo-labels."""
    model = fitted.model
    for name, split in (("train", fitted.train), ("val", data.val), ("test", data.test)):
        probs = head.predict_proba(model, split.X)
        metrics[name] = head.scores(split.y, probs, classes)
    metrics["test"]["pred"] = probs.argmax(1).tolist()
    if metrics.get("labels") != "target":
        metrics["selection"] = {"source_val_acc": metrics["val"]["acc"],
                                "target_val_acc": _accuracy(model, data.target_val),
                                **criteria.pool_scores(head.predict_proba(model, data.pool))}
    head.save(model, checkpoint, classes)
    write_json(metrics, metrics_json)
    write_csv(accepted_csv, fitted.accepted, ["path", "label", "confidence", "round"])
    prov.write(provenance_json, config, seed=metrics["seed"], variant=metrics["variant"])
    return metrics


def train_variant(source: ImageSet, pool: ImageSet, real_test: ImageSet, target_labeled: ImageSet,
                  heads: list[str], metrics: list[str], provenance: list[str],
                  accepted: list[str], *, variant: str, spec: Variant, train: Train,
                  domain_sample: int, data_seed: int, classes: list[str], seeds: list[int],
                  labelling_models: list[str] = (), shared_models: list[str] = ()) -> None:
    """Stage: every seed of method variant `variant` (its parts: `spec`).

    `labelling_models`: per seed, the checkpoint whose predictions give the first round's
    pseudo-labels; `shared_models`: per seed, the checkpoint of the earlier variant that
    trains the same model (then nothing is trained here). The proxy A-distance between
    the training split and the pool is measured in the representation each model's
    classifier reads: per seed for a learned bottleneck, once for the cached features.
    """
    data = load_data(spec, source, pool, real_test, target_labeled, classes)
    if shared_models:
        fitted = [Fitted(m, data.train, {"shared_with": p})
                  for m, p in zip(_load(shared_models, classes), shared_models, strict=True)]
    else:
        fitted = fit_variant(spec, data, classes, train, seeds, _load(labelling_models, classes))
    config = {"spec": spec, "train": train, "domain_sample": domain_sample,
              "data_seed": data_seed, "classes": classes}
    pad = None
    for k, (seed, fit) in enumerate(zip(seeds, fitted, strict=True)):
        if pad is None or isinstance(fit.model, head.BottleneckNet):
            pad = proxy_a_distance(representation(fit.model, data.train.X),
                                   representation(fit.model, data.pool), domain_sample, data_seed)
        m = write_seed(fit, data, classes, heads[k], metrics[k], provenance[k], accepted[k],
                       {"seed": seed, "variant": variant, "labels": spec.labels,
                        "n_train": len(fit.train), "method": spec.model_dump(mode="json"),
                        "proxy_a_distance": pad, **fit.extra}, config)
        log.info("%s seed %d: train %.4f val %.4f test %.4f PAD %.3f", variant, seed,
                 m["train"]["acc"], m["val"]["acc"], m["test"]["acc"], pad)
