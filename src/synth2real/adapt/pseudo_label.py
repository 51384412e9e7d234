"""The published adaptation: pseudo-label the real pool with each seed's source model, retrain.

Two stages, so the accepted labels are a file a reader can inspect:
`label_pool` keeps the pool predictions above the confidence threshold,
`train_adapted` trains a fresh head on synthetic train + those labels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from synth2real.adapt import selection
from synth2real.config import PseudoLabel, Train
from synth2real.data.manifests import read_csv, write_csv
from synth2real.errors import DataError
from synth2real.model import features, head
from synth2real.model.train import fit_and_write, labeled, seed_outputs, source_splits, target_data
from synth2real.store import read_json, write_json


def label_pool(checkpoints: Sequence[str], pool_csv: str, pool_npz: str, accepted_csvs: Sequence[str],
               diagnostics_jsons: Sequence[str], *, pseudo_label: PseudoLabel, seeds: list[int]) -> None:
    """Stage: each seed's source model labels the pool; keep the confident predictions."""
    rows = read_csv(pool_csv)
    # Only paths go to the model; true_label stays in `rows` for the diagnostics.
    X = features.lookup(pool_npz, [r["path"] for r in rows])
    for ckpt, out_csv, out_json in zip(checkpoints, accepted_csvs, diagnostics_jsons, strict=True):
        model, classes = head.load(ckpt)
        probs = head.predict_proba(model, X)
        idx, labels = selection.threshold(probs, pseudo_label.threshold)
        accepted = [{"path": rows[i]["path"], "label": classes[k], "confidence": float(probs[i].max())}
                    for i, k in zip(idx, labels)]
        write_csv(out_csv, accepted, ["path", "label", "confidence"])
        diag = selection.diagnostics(idx, labels, [r["true_label"] for r in rows],
                                     [int(r["in_domain"]) for r in rows], classes)
        write_json({"threshold": pseudo_label.threshold, "source_model": ckpt, **diag}, out_json)


def train_adapted(source_csv: str, source_npz: str, pool_csv: str, pool_npz: str, test_csv: str,
                  test_npz: str, target_csv: str, target_npz: str, accepted_csvs: Sequence[str], diagnostics_jsons: Sequence[str],
                  checkpoints: Sequence[str], metrics: Sequence[str], provenances: Sequence[str], *,
                  train: Train, pseudo_label: PseudoLabel, classes: list[str],
                  seeds: list[int]) -> None:
    """Stage: per seed, a fresh head on synthetic train + that seed's accepted pseudo-labels."""
    (Xs, ys), val = source_splits(source_csv, source_npz, pseudo_label.source_size, classes)
    test = labeled(read_csv(test_csv), test_npz, classes)
    target = target_data(pool_csv, pool_npz, target_csv, target_npz, classes)
    outs = seed_outputs(seeds, checkpoints, metrics, provenances)
    train_sets, diags = [], []
    for accepted_csv, diag_json in zip(accepted_csvs, diagnostics_jsons, strict=True):
        accepted = read_csv(accepted_csv)
        if not accepted:
            raise DataError(f"no pool image passed pseudo_label.threshold={pseudo_label.threshold} "
                            f"({accepted_csv}); lower the threshold")
        Xp, yp = labeled(accepted, pool_npz, classes)
        train_sets.append((np.concatenate([Xs, Xp]), np.concatenate([ys, yp])))
        diags.append({"pseudo_label": read_json(diag_json)})
    fit_and_write(train_sets, {"val": val, "test": test}, outs,
                  {"train": train, "pseudo_label": pseudo_label, "classes": classes}, target,
                  diags, variant="pseudo-label")
