"""Image sets: labels become indices in one place, feature caches know their set and kind, and a
cache is read once per process (again when it is rewritten)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from synth2real.data import imagesets
from synth2real.data.imagesets import ImageSet, class_indices, read_features, save_features
from synth2real.errors import DataError


def test_labels_become_indices_in_logit_order_and_unknown_ones_are_named():
    assert class_indices(["cat", "dog", "cat"], ["dog", "cat"], "m.csv").tolist() == [1, 0, 1]
    with pytest.raises(DataError, match=r"m\.csv: label\(s\) \['horse'\] are not among"):
        class_indices(["dog", "horse"], ["dog", "cat"], "m.csv")


def test_a_cache_records_its_image_set_and_kind(tmp_path):
    save_features(tmp_path / "f.npz", np.zeros((2, 3), np.float32), ["a", "b"], "pool", "adabn")
    cache = read_features(tmp_path / "f.npz")
    assert (cache.imageset, cache.kind) == ("pool", "adabn") and dict(cache.index) == {"a": 0, "b": 1}
    with pytest.raises(ValueError, match="unknown image set"):
        save_features(tmp_path / "g.npz", np.zeros((1, 3)), ["a"], "test", "plain")


def test_an_image_set_refuses_another_kind_another_set_and_missing_images(tmp_path):
    (tmp_path / "pool.csv").write_text("path,true_label,in_domain\na,dog,1\nb,cat,1\n")
    save_features(tmp_path / "f.npz", np.arange(6, dtype=np.float32).reshape(2, 3), ["a", "b"],
                  "pool", "plain")
    pool = ImageSet.of("pool", [str(tmp_path / "pool.csv"), str(tmp_path / "f.npz")])
    assert pool.lookup(["b"], "plain").tolist() == [[3, 4, 5]]
    with pytest.raises(DataError, match="holds plain features of image set 'pool', but this stage "
                                        "reads adabn features of 'pool'"):
        pool.lookup(["a"], "adabn")
    with pytest.raises(DataError, match="'real_test'"):
        ImageSet("real_test", pool.manifest, pool.features).lookup(["a"], "plain")
    with pytest.raises(DataError, match=r"1 image\(s\) .* not in feature cache .*'c'"):
        pool.lookup(["a", "c"], "plain")
    with pytest.raises(ValueError, match=r"\[manifest\.csv, features\.npz\]"):
        ImageSet.of("pool", [str(tmp_path / "f.npz"), str(tmp_path / "pool.csv")])


def test_a_cache_of_an_older_version_is_named(tmp_path):
    np.savez(tmp_path / "old.npz", features=np.zeros((1, 2)), paths=np.asarray(["a"]))
    with pytest.raises(DataError, match="older version"):
        read_features(tmp_path / "old.npz")


def test_feature_lookups_read_a_cache_once_and_see_it_rewritten(tmp_path, monkeypatch):
    path = tmp_path / "f.npz"
    save_features(path, np.arange(6, dtype=np.float32).reshape(3, 2), ["a", "b", "c"], "pool", "plain")
    reads = []
    load = np.load
    monkeypatch.setattr(imagesets.np, "load", lambda p: reads.append(p) or load(p))
    pool = ImageSet("pool", "unused.csv", str(path))
    first = pool.lookup(["c", "a"], "plain")
    assert first.tolist() == [[4, 5], [0, 1]]
    first[0, 0] = -1  # a lookup is the caller's copy
    assert pool.lookup(["c"], "plain").tolist() == [[4, 5]] and len(reads) == 1
    save_features(path, np.ones((1, 2), np.float32), ["c"], "pool", "plain")
    os.utime(path, ns=(1, 1))  # a rewrite, even within the clock's resolution
    assert pool.lookup(["c"], "plain").tolist() == [[1, 1]] and len(reads) == 2
