"""Manifests: nested sizes, nested split, disjoint test/pool, 90/10 pool, determinism."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synth2real.data import manifests
from synth2real.errors import DataError


def make_folder(root: Path, counts: dict[str, int], size=(12, 10)) -> Path:
    for cls, n in counts.items():
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            color = (i * 7 % 256, len(cls) * 20, 100)
            Image.new("RGB", size, color).save(root / cls / f"{i:04d}.png")
    return root


@pytest.fixture
def source(tmp_path):
    return make_folder(tmp_path / "src", {"dog": 30, "cat": 25, "bird": 40})


@pytest.fixture
def real(tmp_path):
    return make_folder(tmp_path / "real", {"dog": 30, "cat": 30, "bird": 30, "car": 10, "ship": 10})


def test_source_sets_are_nested_prefixes(source):
    rows = manifests.source_rows(source, ["dog", "cat", "bird"], 25, 0.2, seed=3, shuffle=True)
    small = {r["path"] for r in rows if r["rank"] < 10}
    big = {r["path"] for r in rows}
    assert small < big and len(small) == 30 and len(big) == 75
    for split in ("train", "val"):
        s = {r["path"] for r in rows if r["rank"] < 10 and r["split"] == split}
        b = {r["path"] for r in rows if r["split"] == split}
        assert s <= b
    val_share = Counter(r["split"] for r in rows if r["rank"] < 10)["val"] / 30
    assert val_share == pytest.approx(0.2)
    assert Counter(r["split"] for r in rows)["val"] == 15  # 20% of 25, per class x 3


def test_source_order_depends_on_seed_only(source):
    a = manifests.source_rows(source, ["dog", "cat"], 20, 0.2, seed=1, shuffle=True)
    b = manifests.source_rows(source, ["dog", "cat"], 20, 0.2, seed=1, shuffle=True)
    c = manifests.source_rows(source, ["dog", "cat"], 20, 0.2, seed=2, shuffle=True)
    assert a == b and a != c


def test_generated_sources_keep_index_order(source):
    rows = manifests.source_rows(source, ["dog"], 10, 0.2, seed=1, shuffle=False)
    assert [Path(str(r["path"])).name for r in rows] == [f"{i:04d}.png" for i in range(10)]


def test_too_few_source_images_names_folder(source):
    with pytest.raises(DataError, match=r"cat'? has 25 images.*asks for 26"):
        manifests.source_rows(source, ["cat"], 26, 0.2, seed=0, shuffle=True)


def test_real_test_and_pool_are_disjoint_with_ood_share(real):
    test, pool = manifests.real_rows(real, real, ["dog", "cat", "bird"], 10, 40, 0.1, seed=0)
    assert len(test) == 30 and len(pool) == 40
    assert not {r["path"] for r in test} & {r["path"] for r in pool}
    assert sum(1 - r["in_domain"] for r in pool) == 4
    assert {r["true_label"] for r in pool if not r["in_domain"]} == {"car", "ship"}
    assert Counter(r["true_label"] for r in pool if r["in_domain"]) == {"dog": 12, "cat": 12, "bird": 12}
    again = manifests.real_rows(real, real, ["dog", "cat", "bird"], 10, 40, 0.1, seed=0)
    other = manifests.real_rows(real, real, ["dog", "cat", "bird"], 10, 40, 0.1, seed=1)
    assert (test, pool) == again and (test, pool) != other


def test_target_splits_are_the_leftovers_disjoint_from_test_and_pool(real):
    args = (real, real, ["dog", "cat", "bird"], 10, 40, 0.1)
    test, pool = manifests.real_rows(*args, seed=0)
    target = manifests.target_rows(*args, 3, None, seed=0)
    used = {r["path"] for r in test} | {r["path"] for r in pool}
    assert not used & {r["path"] for r in target}
    assert Counter((r["label"], r["split"]) for r in target if r["split"] == "val") == {
        ("dog", "val"): 3, ("cat", "val"): 3, ("bird", "val"): 3}
    per_class = len(list((real / "dog").iterdir()))
    # null oracle_per_class: every photo left after test (10), pool (12) and val (3).
    assert sum(r["split"] == "oracle" and r["label"] == "dog" for r in target) == per_class - 25
    capped = manifests.target_rows(*args, 3, 2, seed=0)
    assert Counter(r["split"] for r in capped) == {"val": 9, "oracle": 6}
    # The capped oracle is a prefix of the full one: a smaller oracle is nested in a larger.
    assert {r["path"] for r in capped} <= {r["path"] for r in target}
    assert Counter(r["split"] for r in manifests.target_rows(*args, 3, 0, seed=0)) == {"val": 9}


def test_too_few_photos_for_target_val_names_the_keys(real):
    with pytest.raises(DataError, match=r"target_val_per_class=30.*oracle_per_class: 0"):
        manifests.target_rows(real, real, ["dog", "cat", "bird"], 10, 40, 0.1, 30, None, seed=0)


def test_pool_too_small_is_reported(real):
    with pytest.raises(DataError, match=r"pool too small.*pool_size=200.*after the test set"):
        manifests.real_rows(real, real, ["dog", "cat", "bird"], 10, 200, 0.1, seed=0)


def test_unknown_class_lists_available(real):
    with pytest.raises(DataError, match=r"class 'horse'.*available.*bird, car, cat, dog, ship"):
        manifests.list_class_images(real, "horse", "real")


def test_empty_class_folder(tmp_path):
    (tmp_path / "r" / "dog").mkdir(parents=True)
    with pytest.raises(DataError, match=r"dog'? is empty"):
        manifests.list_class_images(tmp_path / "r", "dog", "real")


def test_missing_root(tmp_path):
    with pytest.raises(DataError, match=r"does not exist"):
        manifests.list_class_images(tmp_path / "nothing", "dog", "real")


def test_corrupt_image_is_named(source):
    bad = source / "dog" / "0003.png"
    bad.write_bytes(b"this is not a png")
    with pytest.raises(DataError, match=r"0003\.png: not a supported image"):
        manifests.source_rows(source, ["dog"], 10, 0.2, seed=0, shuffle=False)


def test_truncated_image_is_named(source):
    path = source / "dog" / "0002.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match=r"0002\.png: .*(corrupt|truncated)"):
        manifests.source_rows(source, ["dog"], 10, 0.2, seed=0, shuffle=False)


def test_non_image_file_in_class_folder(source):
    (source / "cat" / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match=r"notes\.txt.*not an image file"):
        manifests.list_class_images(source, "cat", "source")


def test_csv_round_trip(tmp_path, source):
    rows = manifests.source_rows(source, ["dog"], 10, 0.2, seed=0, shuffle=True)
    manifests.write_csv(tmp_path / "m.csv", rows, manifests.SOURCE_FIELDS)
    back = manifests.read_csv(tmp_path / "m.csv")
    assert [r["path"] for r in back] == [r["path"] for r in rows]
    assert len(manifests.source_subset(back, 5, "train")) == 4
