"""demo/app.py helpers: its settings from a config's `demo:` section, and example picking."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from synth2real.errors import ConfigError
from tests.conftest import REPO


@pytest.mark.parametrize("name", ["paper.yaml", "offline.yaml"])
def test_settings_from_both_configs_without_a_bundle(app, name):
    s = app.demo_settings(str(REPO / "config" / name))
    assert 0 < s.unsure_threshold < 1 and s.max_upload_mb > 0


def test_settings_errors_name_the_key(app, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("demo:\n  unsure_threshold: 2\n  max_uplod_mb: 3\n")
    budgets = tmp_path / "budgets.yaml"
    budgets.write_text("demo:\n  max_image_mpx: 50\n  max_request_mpx: 20\n")
    with pytest.raises(ConfigError, match=r"max_request_mpx \(20\) must be at least demo.max_image_mpx"):
        app.demo_settings(str(budgets))
    assert app.demo_settings(None).max_image_mpx == 24
    with pytest.raises(ConfigError) as info:
        app.demo_settings(str(bad))
    msg = str(info.value)
    assert "demo.unsure_threshold: Input should be less than 1 (got 2)" in msg
    assert "demo.max_uplod_mb: unknown key" in msg
    with pytest.raises(ConfigError, match="does not exist"):
        app.demo_settings(str(tmp_path / "none.yaml"))
    assert app.demo_settings(None).unsure_threshold == 0.6


def test_pick_examples_copies_first_photos_of_each_class(app, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    rows = ["path,label"]
    for cls in ("dog", "cat", "bird"):
        for i in range(3):
            p = src / f"{cls}{i}.JPG"
            Image.new("RGB", (32, 32), (i * 50, 0, 0)).save(p, "JPEG")
            rows.append(f"{p},{cls}")
    csv = tmp_path / "real_test.csv"
    csv.write_text("\n".join(rows) + "\n")
    dest = tmp_path / "dest"
    dest.mkdir()
    picked = app.pick_examples(csv, ["dog", "cat", "bird"], dest)
    assert [(Path(p).name, c) for p, c in picked] == [
        ("dog-0.jpg", "dog"), ("dog-1.jpg", "dog"), ("cat-2.jpg", "cat"), ("cat-3.jpg", "cat"),
        ("bird-4.jpg", "bird"), ("bird-5.jpg", "bird")]
    assert (dest / "cat-2.jpg").read_bytes() == (src / "cat0.JPG").read_bytes()
    assert app.pick_examples(tmp_path / "missing.csv", ["dog"], dest) == []
