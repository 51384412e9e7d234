"""Training stage of the baselines: one head per seed on the synthetic set of one size.

Also what every training stage shares: labelled features from a manifest, and
writing one seed's checkpoint, metrics and provenance to the paths its rule names.
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
from synth2real.model import features, head
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
                metrics: dict[str, Any], config: provenance.Config) -> dict[str, Any]:
    """Score `model` on every `evals` split, then write its checkpoint, metrics and provenance."""
    for name, (Xe, ye) in evals.items():
        metrics[name] = head.scores(ye, head.predict_proba(model, Xe), classes)
    head.save(model, out.checkpoint, classes)
    write_json(metrics, out.metrics)
    provenance.write(out.provenance, config, seed=metrics["seed"], variant=metrics.get("variant"))
    return metrics


def fit_and_write(X: np.ndarray, y: np.ndarray, evals: Mapping[str, Labeled], seed: int,
                  out: SeedOutputs, config: Mapping[str, Any], **extra: Any) -> None:
    """Train the study's head on (X, y) for `seed` and write it (see `write_model`).

    `config`: the sections the stage read (for provenance); `train` and `classes` among them.
    """
    model, hist = head.train_head(X, y, len(config["classes"]), config["train"], seed)
    metrics = {"seed": seed, "n_train": len(y), **extra, "history": {"loss": hist.loss, "lr": hist.lr}}
    write_model(model, out, config["classes"], evals, metrics, config)
    log.info("%s: train %.4f val %.4f test %.4f", out.checkpoint, metrics["train"]["acc"],
             metrics["val"]["acc"], metrics["test"]["acc"])


def train_baseline(size: str, source_csv: str, source_npz: str, test_csv: str, test_npz: str,
                   checkpoints: Sequence[str], metrics: Sequence[str], provenances: Sequence[str], *,
                   train: Train, classes: list[str], seeds: list[int]) -> None:
    """Stage: one head per seed on the synthetic set of `size` images per class.

    All seeds run in one process: the cached features load once, and torch's
    first optimiser step (a lazy import of several seconds) is paid once.
    """
    tr, val = source_splits(source_csv, source_npz, int(size), classes)
    test = labeled(read_csv(test_csv), test_npz, classes)
    for seed, out in seed_outputs(seeds, checkpoints, metrics, provenances).items():
        fit_and_write(*tr, {"train": tr, "val": val, "test": test}, seed, out,
                      {"train": train, "classes": classes}, variant=f"synthetic-{size}")
