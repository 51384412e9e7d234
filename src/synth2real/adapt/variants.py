"""A method variant, composed from its parts, trained for every seed.

A variant's spec (`synth2real.config.Methods.spec`) names one choice per part.
The feature parts (source `plain`/`aligned`, target `plain`/`adabn`) decide
which cached feature files the rule hands in; the rest run here, in order:

    source model (the study's head on the synthetic features, per seed)
    -> reject:  drop the most out-of-domain pool images      (selection.in_domain)
    -> select:  pseudo-labels by threshold or class balance  (SELECTORS)
    -> trainer: a fresh head on synthetic + pseudo-labels, concatenated or
                mixed per minibatch (mixing), or DANN on the unlabeled pool
    -> rounds:  repeat from the new model; keep the round chosen without test labels

Every variant starts from the same source model per seed, so variants pair
seed by seed. The test set is scored only after training; nothing reads its labels.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import nn

from synth2real.adapt import dann, mixing, objectives, selection
from synth2real.analysis.domain import proxy_a_distance
from synth2real.config import Dann, Train
from synth2real.data.manifests import read_csv
from synth2real.model import features, head, stacked
from synth2real.model.criteria import mean_entropy
from synth2real.model.train import (
    Labeled,
    Target,
    labeled,
    seed_outputs,
    source_splits,
    target_split,
    write_model,
)
from synth2real.predict import softmax

log = logging.getLogger(__name__)

Spec = dict[str, Any]


@dataclass
class Data:
    """Cached features of one variant's feature spaces; pool labels for diagnostics only."""

    train: Labeled  # source train
    val: Labeled  # source val: the model-selection signal
    pool: np.ndarray  # unlabeled real pool [P, D]
    pool_true: list[str]  # diagnostics only
    pool_in_domain: list[int]  # diagnostics only
    test: Labeled  # real test: scored after training, never selected on
    target_val: Labeled  # labeled target val: model selection only, after training


@dataclass
class Result:
    model: nn.Module
    train_set: Labeled
    extra: dict[str, Any]


Selector = Callable[[np.ndarray, Spec, np.ndarray | None], tuple[np.ndarray, np.ndarray]]
SELECTORS: dict[str, Selector] = {
    "threshold": lambda probs, spec, cand: selection.threshold(probs, spec["threshold"], cand),
    "balanced": lambda probs, spec, cand: selection.balanced(probs, spec["share"], spec["threshold"],
                                                             cand),
}


def pseudo_label(spec: Spec, model: nn.Module, data: Data,
                 classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(pool indices, labels, diagnostics) of `model`'s pseudo-labels under `spec`."""
    logits = head.logits(model, data.pool)
    probs = softmax(logits)
    candidates = None
    extra: dict[str, Any] = {}
    if spec["reject"] != "none":
        candidates = selection.in_domain(logits, spec["reject"], spec["reject_share"])
        plain = selection.diagnostics(*selection.threshold(probs, spec["threshold"]), data.pool_true,
                                      data.pool_in_domain, classes)
        ind = np.asarray(data.pool_in_domain, bool)
        rejected = np.setdiff1d(np.arange(len(probs)), candidates)
        extra = {"ood_score": spec["reject"], "rejected": len(rejected),
                 "ood_rejected": int((~ind[rejected]).sum()),
                 "ood_accepted_without_rejection": plain["ood_accepted"],
                 "ood_accepted_share_without_rejection": plain["ood_accepted_share"]}
    idx, labels = SELECTORS[spec["select"]](probs, spec, candidates)
    diag = selection.diagnostics(idx, labels, data.pool_true, data.pool_in_domain, classes)
    return idx, labels, {"threshold": spec["threshold"], "selection": spec["select"], **diag, **extra}


def fit(spec: Spec, train_set: Labeled, pseudo: Sequence[Labeled], n_classes: int, train: Train,
        seeds: Sequence[int]) -> tuple[list[nn.Module], list[Labeled]]:
    """Per seed, a fresh head on synthetic + that seed's pseudo-labelled features (`pseudo[k]`):
    concatenated, or mixed per minibatch; all seeds in one batched pass."""
    Xs, ys = train_set
    sets = [(np.concatenate([Xs, Xp]), np.concatenate([ys, yp])) for Xp, yp in pseudo]
    if spec["mix_ratio"] is not None:
        fitted = mixing.train_heads_mixed(Xs, ys, pseudo, spec["mix_ratio"], n_classes, train, seeds)
    else:
        fitted = stacked.train_heads(sets, n_classes, train, seeds)
    return [m for m, _ in fitted], sets


def run(spec: Spec, data: Data, train: Train, classes: Sequence[str], seeds: Sequence[int]) -> list[Result]:
    """Train variant `spec` for every seed on `data`; each returned model maps features to logits.

    The seeds of the study's head train together (`stacked`); seed k's model is the
    one a one-seed run of the same parts gives, up to float rounding.
    """
    n_classes = len(classes)
    Xs, ys = data.train
    if spec["trainer"] == "dann":
        return [Result(net, data.train, {"dann": {"final_lambda": hist.lam[-1],
                                                  "domain_loss": hist.domain_loss,
                                                  "class_loss": hist.class_loss}})
                for net, hist in dann.train_danns(Xs, ys, data.pool, n_classes, train,
                                                  Dann(**spec["dann"]), seeds)]
    if spec["trainer"] in objectives.TARGET_TERMS:
        kind = spec["trainer"]
        return [Result(net, data.train, {kind: {"class_loss": h.class_loss,
                                                "target_loss": h.target_loss}})
                for net, h in objectives.train_objectives(kind, Xs, ys, data.pool, n_classes, train,
                                                          spec[kind], seeds)]
    models = [m for m, _ in stacked.train_heads([data.train] * len(seeds), n_classes, train, seeds)]
    if spec["select"] == "none":
        return [Result(m, data.train, {}) for m in models]
    rounds: list[list[dict[str, Any]]] = [[] for _ in seeds]
    candidates: list[list[tuple[nn.Module, Labeled]]] = [[] for _ in seeds]
    for r in range(1, spec["rounds"] + 1):
        picked = [pseudo_label(spec, m, data, classes) for m in models]
        if any(len(idx) == 0 for idx, _, _ in picked):
            raise ValueError(f"no pool image was pseudo-labeled in round {r}; lower the threshold")
        models, sets = fit(spec, data.train, [(data.pool[idx], labels) for idx, labels, _ in picked],
                           n_classes, train, seeds)
        for k, (model, train_set, (_, _, diag)) in enumerate(zip(models, sets, picked, strict=True)):
            rounds[k].append({"round": r, "val_acc": float((head.logits(model, data.val[0]).argmax(1)
                                                            == data.val[1]).mean()),
                              "pool_entropy": mean_entropy(head.predict_proba(model, data.pool)),
                              "pseudo_label": diag})
            candidates[k].append((model, train_set))
    return [chosen(spec, rs, cs) for rs, cs in zip(rounds, candidates, strict=True)]


def chosen(spec: Spec, rounds: list[dict[str, Any]], candidates: list[tuple[nn.Module, Labeled]]) -> Result:
    """The round kept without test labels (by source val accuracy or pool entropy; ties: earliest)."""
    by = spec.get("select_by", "val_acc")
    key = (lambda i: -rounds[i]["val_acc"]) if by == "val_acc" else (lambda i: rounds[i]["pool_entropy"])
    best = min(range(len(rounds)), key=key)
    model, train_set = candidates[best]
    extra: dict[str, Any] = {"pseudo_label": rounds[best]["pseudo_label"]}
    if spec["rounds"] > 1:
        extra["self_training"] = {"chosen_round": best + 1, "select_by": by, "rounds": rounds}
    return Result(model, train_set, extra)


def representation(model: nn.Module, X: np.ndarray) -> np.ndarray:
    """The features a variant's classifier reads: a learned bottleneck's, else the cached features."""
    return head.embed(model, X) if isinstance(model, head.BottleneckNet) else X


def train_variant(variant: str, source_csv: str, source_npz: str, pool_csv: str, pool_npz: str,
                  test_csv: str, test_npz: str, target_csv: str, target_npz: str, checkpoints: Sequence[str], metrics: Sequence[str],
                  provenances: Sequence[str], *, spec: Spec, train: Train, source_size: int,
                  domain_sample: int, data_seed: int, classes: list[str], seeds: list[int]) -> None:
    """Stage: every seed of one method variant, on the feature files its parts name.

    The proxy A-distance between source-train and pool representations is
    measured per seed for a learned bottleneck (DANN, MCC, CORAL, IM) and once otherwise
    (the frozen features do not depend on the seed).
    """
    tr, val = source_splits(source_csv, source_npz, source_size, classes)
    pool = read_csv(pool_csv)  # true_label / in_domain: diagnostics only
    data = Data(train=tr, val=val, pool=features.lookup(pool_npz, [r["path"] for r in pool]),
                pool_true=[r["true_label"] for r in pool],
                pool_in_domain=[int(r["in_domain"]) for r in pool],
                test=labeled(read_csv(test_csv), test_npz, classes),
                target_val=target_split(target_csv, target_npz, "val", classes))
    config = {"spec": spec, "train": train, "source_size": source_size,
              "domain_sample": domain_sample, "data_seed": data_seed, "classes": classes}
    fixed_pad = None
    outs = seed_outputs(seeds, checkpoints, metrics, provenances)
    for (seed, out), res in zip(outs.items(), run(spec, data, train, classes, list(outs)), strict=True):
        pad = fixed_pad
        if pad is None:
            pad = proxy_a_distance(representation(res.model, data.train[0]),
                                   representation(res.model, data.pool), domain_sample, data_seed)
            fixed_pad = None if spec["trainer"] != "head" else pad
        m = write_model(res.model, out, classes, {"train": res.train_set, "val": data.val,
                                                  "test": data.test},
                        {"seed": seed, "variant": variant, "n_train": len(res.train_set[1]),
                         "method": spec, "proxy_a_distance": pad, **res.extra}, config,
                        Target(data.pool, data.target_val))
        log.info("%s seed %d: val %.4f test %.4f PAD %.3f", variant, seed, m["val"]["acc"],
                 m["test"]["acc"], pad)
