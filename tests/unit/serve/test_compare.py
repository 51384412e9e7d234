"""The demo's comparison logic and HTML on two toy ONNX models (no server, no workflow run)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from PIL import Image

from synth2real.serve.compare import MAX_FILES, Comparer
from synth2real.serve.html import render_html
from tests.unit.test_predict import toy_model

CLASSES = ["red", "green", "blue"]


def _meta(variant: str, acc: float) -> dict[str, str]:
    return {"class_names": json.dumps(CLASSES), "input_size": "16", "variant": variant,
            "test_accuracy": repr(acc), "seed": "0", "git_commit": "abc123", "config_hash": "f00"}


@pytest.fixture
def models(tmp_path) -> Path:
    d = tmp_path / "models"
    d.mkdir()
    toy_model(d / "baseline.onnx", _meta("synthetic-1000", 0.8125))
    adapted = toy_model(d / "adapted.onnx", _meta("pseudo-label", 0.9375))
    # The adapted model calls red things green: a guaranteed disagreement on red photos.
    proto = onnx.load(str(adapted))
    w = np.array([[0, 4, 0], [4, 0, 0], [0, 0, 4]], np.float32)
    proto.graph.initializer[0].CopyFrom(numpy_helper.from_array(w, "W"))
    onnx.save(proto, str(adapted))
    return d


def _photo(tmp_path: Path, name: str, color) -> Path:
    path = tmp_path / name
    Image.new("RGB", (32, 24), color).save(path)
    return path


def test_disagreement_and_unsure(models, tmp_path):
    c = Comparer(models, unsure_threshold=0.6, max_upload_mb=1)
    red = _photo(tmp_path, "red.png", (255, 0, 0))
    blue = _photo(tmp_path, "blue.png", (0, 0, 255))
    grey = _photo(tmp_path, "grey.png", (128, 128, 128))
    res = c.compare([red, blue, grey])
    r, b, g = res["results"]
    assert (r["baseline"]["top_class"], r["adapted"]["top_class"]) == ("red", "green")
    assert r["disagree"] and not r["unsure"]
    assert not b["disagree"] and b["adapted"]["top_class"] == "blue"
    # Grey: equal mean colours, uniform 1/3 probabilities in both models.
    assert g["unsure"] and g["adapted"]["confidence"] == pytest.approx(1 / 3)
    assert res["models"]["adapted"]["test_accuracy"] == 0.9375

    html = render_html(res)
    assert html.count('class="s2r-card ') + html.count('class="s2r-card"') == 3 and html.count("s2r-disagree") == 1
    assert "baseline says <b>red</b>, adapted says <b>green</b>" in html
    assert "Probably none of red/green/blue" in html and html.count("Probably none") == 1


def test_errors_are_per_file_and_escaped(models, tmp_path):
    c = Comparer(models, unsure_threshold=0.6, max_upload_mb=0.001)  # ~1 kB limit
    evil = tmp_path / "<img src=x onerror=alert(1)>.jpg"
    evil.write_text("text")
    big = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(big)
    ok = _photo(tmp_path, "ok.png", (0, 255, 0))
    res = c.compare([evil, big, ok])
    e, b, o = res["results"]
    assert "not an image file" in e["error"] and e["baseline"] is None
    assert b["error"].endswith("kB is over the 0.001 MB upload limit")
    assert o["error"] is None and o["baseline"]["top_class"] == "green"
    html = render_html(res)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;.jpg" in html


def test_too_many_files(models, tmp_path):
    c = Comparer(models, unsure_threshold=0.6, max_upload_mb=1)
    photo = _photo(tmp_path, "p.png", (0, 0, 255))
    res = c.compare([photo] * (MAX_FILES + 2))
    errors = [r["error"] for r in res["results"]]
    assert errors[:MAX_FILES] == [None] * MAX_FILES
    assert all(f"at most {MAX_FILES} photos" in e for e in errors[MAX_FILES:])
    assert c.compare(None)["results"] == [] and "Upload photos" in render_html(c.compare([]))


def test_explanation_reads_accuracies_from_metadata(models):
    text = Comparer(models, unsure_threshold=0.6, max_upload_mb=1).explanation()
    assert "synthetic-1000" in text and "81.2%" in text
    assert "pseudo-label" in text and "93.8%" in text and "60%" in text


def test_missing_models_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"baseline.onnx, .*adapted.onnx not found"):
        Comparer(tmp_path, unsure_threshold=0.6, max_upload_mb=1)
