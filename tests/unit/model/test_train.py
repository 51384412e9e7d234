"""Training stages on a separable toy with a domain shift: the oracle (labeled target photos)
beats the source-only model, and every model is scored for selection without the test set."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from synth2real.config import Train
from synth2real.data.manifests import (
    POOL_FIELDS,
    SOURCE_FIELDS,
    TARGET_FIELDS,
    TEST_FIELDS,
    write_csv,
)
from synth2real.model import features
from synth2real.model.train import train_baseline, train_oracle

CLASSES = ["dog", "cat", "bird"]
D = 16


def domain(rng, n_per_class, shift):
    """Three Gaussian classes; the target's class means are rotated so a source model errs."""
    means = np.eye(3, D) * 4
    if shift:
        means = np.roll(means, 1, axis=1) * 0.5 + means * 0.5 + np.eye(3, D, 5) * 4
    X = np.concatenate([m + rng.normal(0, 1.5, (n_per_class, D)) for m in means])
    return X.astype(np.float32), np.repeat(np.arange(3), n_per_class)


@pytest.fixture
def toy(tmp_path):
    rng = np.random.default_rng(0)
    files = {}

    def write(name, X, rows, fields):
        paths = [f"{name}/{i}.png" for i in range(len(X))]
        for r, p in zip(rows, paths):
            r["path"] = p
        features.save(tmp_path / f"{name}.npz", X, paths)
        write_csv(tmp_path / f"{name}.csv", rows, fields)
        files[name] = (str(tmp_path / f"{name}.csv"), str(tmp_path / f"{name}.npz"))

    Xs, ys = domain(rng, 40, shift=False)
    write("source", Xs, [{"label": CLASSES[y], "rank": i % 40, "split": "val" if i % 5 == 0 else "train"}
                         for i, y in enumerate(ys)], SOURCE_FIELDS)
    Xt, yt = domain(rng, 100, shift=True)
    write("test", Xt, [{"label": CLASSES[y]} for y in yt], TEST_FIELDS)
    Xp, yp = domain(rng, 30, shift=True)
    write("pool", Xp, [{"true_label": CLASSES[y], "in_domain": 1} for y in yp], POOL_FIELDS)
    Xl, yl = domain(rng, 30, shift=True)
    write("target", Xl, [{"label": CLASSES[y], "split": "val" if i % 30 < 5 else "oracle"}
                         for i, y in enumerate(yl)], TARGET_FIELDS)
    return tmp_path, files


def outputs(root, variant, seeds):
    return [[str(root / variant / f"seed{s}" / f) for s in seeds]
            for f in ("head.pt", "metrics.json", "provenance.json")]


def test_oracle_beats_source_only_and_only_candidates_are_scored(toy):
    root, f = toy
    train, seeds = Train(epochs=30, lr=0.05, step_size=100), [0, 1]
    train_baseline("40", *f["source"], *f["test"], *f["pool"], *f["target"],
                   *outputs(root, "synthetic-40", seeds), train=train, classes=CLASSES, seeds=seeds)
    train_oracle(*f["target"], *f["test"], *outputs(root, "oracle", seeds), train=train,
                 classes=CLASSES, seeds=seeds)
    for s in seeds:
        src = json.loads((root / "synthetic-40" / f"seed{s}" / "metrics.json").read_text())
        orc = json.loads((root / "oracle" / f"seed{s}" / "metrics.json").read_text())
        assert orc["test"]["acc"] > src["test"]["acc"] + 0.1
        assert orc["labels"] == "target" and orc["n_train"] == 3 * 25 and "selection" not in orc
        assert len(src["test"]["pred"]) == 300
        assert src["test"]["acc"] == pytest.approx(np.mean(
            np.array(src["test"]["pred"]) == np.repeat(np.arange(3), 100)))
        sel = src["selection"]
        assert sel["source_val_acc"] == src["val"]["acc"] and 0 <= sel["target_val_acc"] <= 1
        assert {"pool_entropy", "pool_im", "snd"} <= set(sel)


def test_feature_lookups_read_a_cache_once_and_see_it_rewritten(tmp_path, monkeypatch):
    path = tmp_path / "f.npz"
    features.save(path, np.arange(6, dtype=np.float32).reshape(3, 2), ["a", "b", "c"])
    reads = []
    load = features.load
    monkeypatch.setattr(features, "load", lambda p: reads.append(p) or load(p))
    first = features.lookup(path, ["c", "a"])
    assert first.tolist() == [[4, 5], [0, 1]]
    first[0, 0] = -1  # a lookup is the caller's copy
    assert features.lookup(path, ["c"]).tolist() == [[4, 5]] and len(reads) == 1
    features.save(path, np.ones((1, 2), np.float32), ["c"])
    os.utime(path, ns=(1, 1))  # a rewrite, even within the clock's resolution
    assert features.lookup(path, ["c"]).tolist() == [[1, 1]] and len(reads) == 2
