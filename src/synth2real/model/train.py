"""Training stage of the baselines: one head per seed on the synthetic set of one size.

Also what every training stage shares: labelled features from a manifest, the
real target data every model is scored on for model selection (unlabeled pool,
labeled target-validation split), and writing one seed's checkpoint, metrics
and provenance to the paths its rule names.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import nn

from synth2real import provenance
from synth2real.config import Train
from synth2real.data.manifests import read_csv, source_subset
from synth2real.model import criteria, features, head, stacked
from synth2real.store import write_json

log = logging.getLogger(__name__)

Labeled = tuple[np.ndarray, np.ndarray]  # features [N, D], class indices [N]


def labeled(rows: Sequence[Mapping[str, str]], feats_npz: str, classes: Sequence[str]) -> Labeled:
    """Cached features of the manifest `rows` and their labels as class indices."""
    X = features.lookup(feats_npz, [r["path"] for r in rows])
    index = {c: i for i, c in enumerate(classes)}
    return X, np.array([index[r["label"]] for r in rows], dtype=np.int64)


def source_splits(source_csv: str, source_npz: str, size: int,
                  classes: Sequence[str]) -> tuple[Labeled, Labeled]:
    """(train, val) of the synthetic set with `size` images per class."""
    rows = read_csv(source_csv)
    return (labeled(source_subset(rows, size, "train"), source_npz, classes),
            labeled(source_subset(rows, size, "val"), source_npz, classes))


@dataclass(frozen=True)
class Target:
    """Real target data for model selection: unlabeled pool features, labeled target val."""

    pool: np.ndarray
    val: Labeled


def target_split(target_csv: str, target_npz: str, split: str, classes: Sequence[str]) -> Labeled:
    """One split ('val' or 'oracle') of the labeled target manifest."""
    return labeled([r for r in read_csv(target_csv) if r["split"] == split], target_npz, classes)


def target_data(pool_csv: str, pool_npz: str, target_csv: str, target_npz: str,
                classes: Sequence[str]) -> Target:
    pool = features.lookup(pool_npz, [r["path"] for r in read_csv(pool_csv)])
    return Target(pool, target_split(target_csv, target_npz, "val", classes))


@dataclass(frozen=True)
class SeedOutputs:
    """Where one seed's model goes: checkpoint, metrics and provenance (paths from the rule)."""

    checkpoint: str
    metrics: str
    provenance: str


def seed_outputs(seeds: Sequence[int], checkpoints: Sequence[str], metrics: Sequence[str],
                 provenances: Sequence[str]) -> dict[int, SeedOutputs]:
    return {s: SeedOutputs(c, m, p) for s, c, m, p in zip(seeds, checkpoints, metrics, provenances,
                                                           strict=True)}


def write_model(model: nn.Module, out: SeedOutputs, classes: Sequence[str], evals: Mapping[str, Labeled],
                metrics: dict[str, Any], config: provenance.Config,
                target: Target | None = None) -> dict[str, Any]:
    """Score `model` on every `evals` split, then write its checkpoint, metrics and provenance.

    The test split's per-image predictions are kept (`test.pred`, in manifest order) for the
    summary's bootstrap over test images. With `target`, the model-selection criteria are
    added under `selection` (none of them reads the test set).
    """
    for name, (Xe, ye) in evals.items():
        probs = head.predict_proba(model, Xe)
        metrics[name] = head.scores(ye, probs, classes)
        if name == "test":
            metrics[name]["pred"] = probs.argmax(1).tolist()
    if target is not None:
        val = head.scores(target.val[1], head.predict_proba(model, target.val[0]), classes)
        metrics["selection"] = {"source_val_acc": metrics["val"]["acc"],
                                "target_val_acc": val["acc"],
                                **criteria.pool_scores(head.predict_proba(model, target.pool))}
    head.save(model, out.checkpoint, classes)
    write_json(metrics, out.metrics)
    provenance.write(out.provenance, config, seed=metrics["seed"], variant=metrics.get("variant"))
    return metrics


def write_fitted(fitted: Sequence[tuple[nn.Module, head.History]], train_sets: Sequence[Labeled],
                 evals: Mapping[str, Labeled], outs: Mapping[int, SeedOutputs],
                 config: Mapping[str, Any], target: Target | None = None,
                 extras: Sequence[Mapping[str, Any]] | None = None, **extra: Any) -> None:
    """Write seed k's trained model `fitted[k]` (scored on `train_sets[k]` as `train`, then `evals`).

    `config`: the sections the stage read (for provenance); `classes` among them.
    `extra` goes into every seed's metrics, `extras[k]` into seed k's.
    """
    for k, ((seed, out), (model, hist)) in enumerate(zip(outs.items(), fitted, strict=True)):
        metrics = {"seed": seed, "n_train": len(train_sets[k][1]), **extra,
                   **(extras[k] if extras else {}), "history": {"loss": hist.loss, "lr": hist.lr}}
        write_model(model, out, config["classes"], {"train": train_sets[k], **evals}, metrics, config,
                    target)
        log.info("%s: train %.4f val %.4f test %.4f", out.checkpoint, metrics["train"]["acc"],
                 metrics["val"]["acc"], metrics["test"]["acc"])


def fit_and_write(train_sets: Sequence[Labeled], evals: Mapping[str, Labeled],
                  outs: Mapping[int, SeedOutputs], config: Mapping[str, Any],
                  target: Target | None = None, extras: Sequence[Mapping[str, Any]] | None = None,
                  **extra: Any) -> None:
    """Train the study's head for every seed of `outs` at once, seed k on `train_sets[k]`, and
    write each (see `write_fitted`). `config` holds `train` and `classes` among its sections.

    One batched pass (`stacked.train_heads`): each seed's head is the one `head.train_head`
    trains for that seed, up to float rounding.
    """
    fitted = stacked.train_heads(train_sets, len(config["classes"]), config["train"], list(outs))
    write_fitted(fitted, train_sets, evals, outs, config, target, extras, **extra)


def train_baseline(size: str, source_csv: str, source_npz: str, test_csv: str, test_npz: str,
                   pool_csv: str, pool_npz: str, target_csv: str, target_npz: str,
                   checkpoints: Sequence[str], metrics: Sequence[str], provenances: Sequence[str], *,
                   train: Train, classes: list[str], seeds: list[int]) -> None:
    """Stage: one head per seed on the synthetic set of `size` images per class.

    All seeds train together in one batched pass over the features, loaded once.
    """
    tr, val = source_splits(source_csv, source_npz, int(size), classes)
    test = labeled(read_csv(test_csv), test_npz, classes)
    target = target_data(pool_csv, pool_npz, target_csv, target_npz, classes)
    outs = seed_outputs(seeds, checkpoints, metrics, provenances)
    fit_and_write([tr] * len(outs), {"val": val, "test": test}, outs,
                  {"train": train, "classes": classes}, target, variant=f"synthetic-{size}")


def train_oracle(target_csv: str, target_npz: str, test_csv: str, test_npz: str,
                 checkpoints: Sequence[str], metrics: Sequence[str], provenances: Sequence[str], *,
                 train: Train, classes: list[str], seeds: list[int]) -> None:
    """Stage: the oracle, the study's head trained per seed on *labeled real target* photos
    (the target manifest's oracle split; target val is its validation split).

    The upper bound of every adaptation method on the same frozen features: its labels
    are read by this stage only, and it is never a model-selection candidate.
    """
    tr = target_split(target_csv, target_npz, "oracle", classes)
    val = target_split(target_csv, target_npz, "val", classes)
    test = labeled(read_csv(test_csv), test_npz, classes)
    outs = seed_outputs(seeds, checkpoints, metrics, provenances)
    fit_and_write([tr] * len(outs), {"val": val, "test": test}, outs,
                  {"train": train, "classes": classes}, variant="oracle", labels="target")
