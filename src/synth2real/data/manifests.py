"""Split and pool manifests: CSV lists of image paths and labels, never copies.

Source manifest (stage `source_manifest`): the first `max(sizes)` images of
each class in a fixed order, with their `rank` in that order and a fixed
train/val split. The set of size N is `rank < N`, so the 500 set is a prefix
of the 1000 set and only the *volume* differs between the two variants. The
split is a function of the rank alone (every 1/val_fraction-th image is
validation), so it is nested too: val(500) is a subset of val(1000).

Real manifests (stage `real_manifests`): a labeled test set of
`test_per_class` images per class and a disjoint unlabeled pool,
`1 - ood_fraction` of it from the study classes and the rest from the other
classes of the same real dataset (out-of-domain). The pool's `true_label`
column exists for diagnostics only; training never reads it. Then, from the
real photos of the study classes left over after both, a small labeled
*target-validation* split (model selection only) and the *oracle* training
split (the target-supervised upper bound only): disjoint from test and pool.
"""

from __future__ import annotations

import csv
import logging
import math
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from synth2real.config import RealData, SyntheticData
from synth2real.data.sources import available_classes, check_root, real_roots, source_root
from synth2real.errors import DataError
from synth2real.predict import ImageError, load_image

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm"}

SOURCE_FIELDS = ["path", "label", "rank", "split"]
TEST_FIELDS = ["path", "label"]
POOL_FIELDS = ["path", "true_label", "in_domain"]
TARGET_FIELDS = ["path", "label", "split"]


def list_class_images(root: Path, cls: str, what: str) -> list[Path]:
    """All image files of one class folder, sorted by name; errors name the folder."""
    check_root(root, what)
    folder = root / cls
    if not folder.is_dir():
        raise DataError(
            f"class {cls!r} has no folder {str(folder)!r}; "
            f"classes available in {str(root)!r}: {', '.join(available_classes(root)) or '(none)'}"
        )
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    strangers = [p for p in files if p.suffix.lower() not in IMAGE_EXTENSIONS]
    if strangers:
        raise DataError(
            f"{str(strangers[0])!r} is not an image file (extension {strangers[0].suffix!r}); "
            f"{len(strangers)} such file(s) in {str(folder)!r}. Remove them or move them out."
        )
    if not files:
        raise DataError(f"class folder {str(folder)!r} is empty; it needs image files")
    return files


def seeded_order(items: Sequence[Path], seed: int, key: str) -> list[Path]:
    """A fixed pseudo-random order of `items`, depending only on (seed, key)."""
    rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
    return [items[i] for i in rng.permutation(len(items))]


def is_val(rank: int, val_fraction: float) -> bool:
    """Nested split: rank r is validation when floor((r+1)*f) > floor(r*f)."""
    return math.floor((rank + 1) * val_fraction) > math.floor(rank * val_fraction)


def verify_images(paths: Iterable[Path]) -> None:
    """Decode every image once; one error lists the corrupt files and the fix."""
    # With the one loader training and the predictor use: what passes here loads there.
    bad = []
    for p in paths:
        try:
            load_image(p)
        except ImageError as e:
            bad.append(str(e))
    if bad:
        shown = "\n  ".join(bad[:10])
        raise DataError(
            f"{len(bad)} unreadable image(s):\n  {shown}\n"
            "Remove or replace these files, then rerun (finished steps are kept)."
        )


def source_rows(
    root: Path, classes: Sequence[str], max_size: int, val_fraction: float, seed: int,
    shuffle: bool,
) -> list[dict[str, object]]:
    """Rows of the source manifest for the first `max_size` images of each class.

    `shuffle=False` keeps file-name order (generated images, whose index is
    their per-image seed); `shuffle=True` draws a seeded order (image folders).
    """
    rows: list[dict[str, object]] = []
    for cls in classes:
        files = list_class_images(root, cls, "source images")
        if len(files) < max_size:
            raise DataError(
                f"source class folder {str(root / cls)!r} has {len(files)} images, but "
                f"synthetic.sizes asks for {max_size} per class; add images or lower the size"
            )
        ordered = seeded_order(files, seed, f"source/{cls}") if shuffle else files
        for rank, path in enumerate(ordered[:max_size]):
            split = "val" if is_val(rank, val_fraction) else "train"
            rows.append({"path": str(path), "label": cls, "rank": rank, "split": split})
    verify_images(Path(str(r["path"])) for r in rows)
    return rows


def _spread(total: int, n: int) -> list[int]:
    """Split `total` into `n` near-equal integer parts (larger parts first)."""
    return [total // n + (1 if i < total % n else 0) for i in range(n)]


def _class_candidates(test_root: Path, pool_root: Path, cls: str, test_per_class: int,
                      seed: int) -> tuple[list[Path], list[Path]]:
    """(test files, pool candidates) of one study class, each in its fixed seeded order.

    The test set is the first `test_per_class` test files; pool candidates come
    after them when test and pool share a folder, else from the pool folder.
    """
    test_files = seeded_order(list_class_images(test_root, cls, "real test"), seed, f"real/{cls}")
    if len(test_files) < test_per_class:
        raise DataError(
            f"real class folder {str(test_root / cls)!r} has {len(test_files)} images, "
            f"fewer than real.test_per_class={test_per_class}"
        )
    if test_root.resolve() == pool_root.resolve():
        return test_files, test_files[test_per_class:]
    return test_files, seeded_order(list_class_images(pool_root, cls, "real pool"), seed, f"pool/{cls}")


def real_rows(
    test_root: Path, pool_root: Path, classes: Sequence[str], test_per_class: int,
    pool_size: int, ood_fraction: float, seed: int,
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """(test rows, pool rows). When both roots are the same folder they are disjoint."""
    check_root(test_root, "real test")
    check_root(pool_root, "real pool")
    same = test_root.resolve() == pool_root.resolve()
    n_ood = round(pool_size * ood_fraction)
    in_counts = _spread(pool_size - n_ood, len(classes))
    test: list[dict[str, object]] = []
    pool: list[dict[str, object]] = []
    for cls, n_pool in zip(classes, in_counts):
        test_files, candidates = _class_candidates(test_root, pool_root, cls, test_per_class, seed)
        test += [{"path": str(p), "label": cls} for p in test_files[:test_per_class]]
        if len(candidates) < n_pool:
            raise DataError(
                f"real pool too small: real.pool_size={pool_size} needs {n_pool} {cls!r} images, "
                f"but only {len(candidates)} are left in {str(pool_root / cls)!r}"
                + (" after the test set" if same else "")
                + "; lower real.pool_size or real.test_per_class"
            )
        pool += [{"path": str(p), "true_label": cls, "in_domain": 1} for p in candidates[:n_pool]]
    others = [c for c in available_classes(pool_root) if c not in classes]
    if n_ood and not others:
        raise DataError(
            f"real.ood_fraction={ood_fraction} needs out-of-domain classes, but "
            f"{str(pool_root)!r} has only the study classes"
        )
    for cls, n in zip(others, _spread(n_ood, len(others)) if others else []):
        files = seeded_order(list_class_images(pool_root, cls, "real pool"), seed, f"pool/{cls}")
        if len(files) < n:
            raise DataError(f"real pool too small: needs {n} {cls!r} images, {str(pool_root / cls)!r} has {len(files)}")
        pool += [{"path": str(p), "true_label": cls, "in_domain": 0} for p in files[:n]]
    verify_images(Path(str(r["path"])) for r in test + pool)
    return test, pool


def target_rows(
    test_root: Path, pool_root: Path, classes: Sequence[str], test_per_class: int,
    pool_size: int, ood_fraction: float, val_per_class: int, oracle_per_class: int | None,
    seed: int,
) -> list[dict[str, object]]:
    """Labeled real rows left over after test and pool: `val_per_class` per class of
    split "val", then up to `oracle_per_class` (None: all that are left) of split "oracle"."""
    n_pool = _spread(pool_size - round(pool_size * ood_fraction), len(classes))
    rows: list[dict[str, object]] = []
    for cls, used in zip(classes, n_pool):
        _, candidates = _class_candidates(test_root, pool_root, cls, test_per_class, seed)
        rest = candidates[used:]
        needed = val_per_class + (oracle_per_class != 0)  # the oracle needs at least one
        if len(rest) < needed:
            raise DataError(
                f"only {len(rest)} {cls!r} photos are left in {str(pool_root / cls)!r} after the "
                f"test set and the pool; real.target_val_per_class={val_per_class} plus the "
                "oracle need more. Lower real.target_val_per_class, real.pool_size or "
                "real.test_per_class, or set real.oracle_per_class: 0 (no oracle)"
            )
        n_oracle = len(rest) - val_per_class if oracle_per_class is None else oracle_per_class
        oracle = rest[val_per_class:val_per_class + n_oracle]
        rows += [{"path": str(p), "label": cls, "split": "val"} for p in rest[:val_per_class]]
        rows += [{"path": str(p), "label": cls, "split": "oracle"} for p in oracle]
    verify_images(Path(str(r["path"])) for r in rows)
    return rows


def write_csv(path: str | Path, rows: Sequence[dict[str, object]], fields: Sequence[str]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(fields))
        w.writeheader()
        w.writerows(rows)
    tmp.replace(path)


def read_csv(path: str | Path) -> list[dict[str, str]]:
    with Path(path).open(newline="") as fh:
        return list(csv.DictReader(fh))


def source_subset(rows: Sequence[dict[str, str]], size: int, split: str) -> list[dict[str, str]]:
    """Rows of the nested set of `size` per class, one split ('train' or 'val')."""
    return [r for r in rows if int(r["rank"]) < size and r["split"] == split]


def source_manifest(csv: str, *, synthetic: SyntheticData, classes: list[str],
                    data_seed: int) -> None:
    """Stage `source_manifest`: the nested train/val manifest of the synthetic images."""
    root, shuffle = source_root(synthetic.source)
    rows = source_rows(root, classes, max(synthetic.sizes), synthetic.val_fraction, data_seed,
                       shuffle)
    write_csv(csv, rows, SOURCE_FIELDS)
    log.info("source manifest: %d images (%s)", len(rows), root)


def real_manifests(real_test: str, pool: str, target_labeled: str, *, real: RealData,
                   classes: list[str], data_seed: int) -> None:
    """Stage `real_manifests`: the labeled real test set, the disjoint unlabeled pool, and
    the labeled target-validation and oracle splits left over after both."""
    test_root, pool_root = real_roots(real.source)
    sizes = (real.test_per_class, real.pool_size, real.ood_fraction)
    test_rows, pool_rows = real_rows(test_root, pool_root, classes, *sizes, data_seed)
    labeled = target_rows(test_root, pool_root, classes, *sizes, real.target_val_per_class,
                          real.oracle_per_class, data_seed)
    write_csv(real_test, test_rows, TEST_FIELDS)
    write_csv(pool, pool_rows, POOL_FIELDS)
    write_csv(target_labeled, labeled, TARGET_FIELDS)
    n_oracle = sum(r["split"] == "oracle" for r in labeled)
    log.info("real test: %d images, pool: %d, target val: %d, oracle: %d", len(test_rows),
             len(pool_rows), len(labeled) - n_oracle, n_oracle)


def typical_side(paths: Sequence[str | Path]) -> dict[str, float]:
    """Median shorter side (px) of the images at `paths` and its spread, read from headers only."""
    if not paths:
        raise DataError("cannot measure the photos' resolution: the manifest lists no images")
    sides = []
    for p in paths:
        try:
            with Image.open(p) as im:  # lazy: decodes the header, not the pixels
                sides.append(min(im.size))
        except OSError as e:
            raise DataError(f"{p}: cannot read image header ({e}); fix or remove the file") from None
    s = np.asarray(sides, dtype=np.float64)
    return {"median_side": float(np.median(s)), "min_side": float(s.min()),
            "max_side": float(s.max()), "images": len(s)}
