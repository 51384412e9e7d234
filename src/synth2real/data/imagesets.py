"""An image set as the stages read it: its manifest, its cached features and their kind.

The workflow's image sets are `source` (the synthetic images, split train/val),
`pool` (unlabeled real photos; its labels are for diagnostics only), `real_test`
(labeled real photos, scored after training) and `target_labeled` (a few labeled
real photos: split `val` for model selection, `oracle` for the upper bound). A
rule hands one to a stage as `[manifest.csv, features.npz]` under the set's
name; `synth2real.smk.run` makes it an `ImageSet`.

Features are cached once per (image set, kind): `plain` (the frozen backbone),
`aligned` (source images at the target resolution first), `adabn` (the backbone
with BatchNorm statistics of the pool), `block` (the input of MobileNetV2's last
block, [N, 49, 320] float16, for models that train that block), and one per pixel-level
part (`fda`, `simgan`, `cyclegan`, `mrgan`: the refined source images). Each cache records its image set and
kind, so a stage that reads AdaBN pool features refuses a plain cache, or the
test set's, even when the file names were swapped. Labels become class indices
in one place, `class_indices`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import numpy as np

from synth2real.config.variants import FeatureKind
from synth2real.data.manifests import read_csv
from synth2real.errors import DataError

IMAGE_SETS = ("source", "pool", "real_test", "target_labeled")
FEATURE_KINDS = get_args(FeatureKind)


def class_indices(labels: Sequence[str], classes: Sequence[str], where: str) -> np.ndarray:
    """Class names -> indices in `classes` (the logit order), int64; an unknown name is an
    error naming `where` (the manifest) and the label."""
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({lab for lab in labels if lab not in index})
    if unknown:
        raise DataError(f"{where}: label(s) {unknown} are not among the study's classes "
                        f"{list(classes)}; rebuild the manifest (its rule reruns when `classes` "
                        "changes)")
    return np.array([index[lab] for lab in labels], dtype=np.int64)


def save_features(path: str | Path, features: np.ndarray, paths: Sequence[str], imageset: str,
                  kind: str) -> None:
    """Write a feature cache: features [N, D] of the images `paths`, tagged with set and kind."""
    if imageset not in IMAGE_SETS or kind not in FEATURE_KINDS:
        raise ValueError(f"unknown image set {imageset!r} or feature kind {kind!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, features=features, paths=np.asarray(paths), imageset=np.str_(imageset),
             kind=np.str_(kind))
    tmp.replace(path)


@dataclass(frozen=True)
class FeatureCache:
    """A feature cache read from disk: features [N, D] (read-only), row of each image path."""

    features: np.ndarray
    index: Mapping[str, int]
    imageset: str
    kind: str


@functools.lru_cache(maxsize=16)
def _read(path: str, stamp: tuple[int, int]) -> FeatureCache:
    # A stage looks up the same cache several times (splits, rounds): read it once per
    # process. `stamp` (mtime, size) makes a rewritten file a new entry.
    with np.load(path) as z:
        if "kind" not in z.files:
            raise DataError(f"{path}: a feature cache of an older version (no feature kind); "
                            "delete it and rerun, its rule recomputes it")
        feats = z["features"]
        feats.flags.writeable = False  # shared between callers: lookups return copies
        return FeatureCache(feats, {str(p): i for i, p in enumerate(z["paths"])},
                            str(z["imageset"]), str(z["kind"]))


def read_features(path: str | Path) -> FeatureCache:
    st = Path(path).stat()
    return _read(str(Path(path).resolve()), (st.st_mtime_ns, st.st_size))


@dataclass(frozen=True)
class ImageSet:
    """One image set's manifest and feature cache, as a rule hands them to a stage."""

    name: str
    manifest: str
    features: str

    @classmethod
    def of(cls, name: str, files: Sequence[str]) -> ImageSet:
        """From a rule's `name=[manifest.csv, features.npz]`."""
        if len(files) != 2 or not str(files[0]).endswith(".csv") or not str(files[1]).endswith(".npz"):
            raise ValueError(f"image set {name!r} takes [manifest.csv, features.npz] from its "
                             f"rule, got {list(files)}")
        return cls(name, str(files[0]), str(files[1]))

    def rows(self) -> list[dict[str, str]]:
        return read_csv(self.manifest)

    def kind(self) -> str:
        return read_features(self.features).kind

    def lookup(self, paths: Sequence[str], kind: str) -> np.ndarray:
        """Features [len(paths), D] (a new array) of images of this set, from a cache that
        must hold this set's features of `kind`."""
        cache = read_features(self.features)
        if (cache.imageset, cache.kind) != (self.name, kind):
            raise DataError(
                f"{self.features} holds {cache.kind} features of image set {cache.imageset!r}, "
                f"but this stage reads {kind} features of {self.name!r}: the rule passed the "
                "wrong file (see workflow/rules/common.smk, FEATURES)")
        missing = [p for p in paths if p not in cache.index]
        if missing:
            raise DataError(f"{len(missing)} image(s) of {self.manifest} not in feature cache "
                            f"{self.features}, e.g. {missing[0]!r}; rerun its feature rule")
        return cache.features[[cache.index[p] for p in paths]]

    def labeled(self, rows: Sequence[Mapping[str, str]], classes: Sequence[str],
                kind: str) -> Labeled:
        """Features and class indices of `rows` (rows of this set's manifest)."""
        return Labeled(self.lookup([r["path"] for r in rows], kind),
                       class_indices([r["label"] for r in rows], classes, self.manifest))


@dataclass(frozen=True)
class Labeled:
    """Features [N, D] and their class indices [N]."""

    X: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)
