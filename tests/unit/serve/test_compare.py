"""The demo's comparison logic and HTML on three toy ONNX models (no server, no workflow run)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from PIL import Image

from synth2real.config import Demo
from synth2real.serve.compare import MAX_FILES, Comparer, Upload
from synth2real.serve.html import render_header, render_html
from tests.unit.test_predict import toy_model

CLASSES = ["red", "green", "blue"]


def write_card(d: Path, helps: bool = True, **extra) -> None:
    """A models/card.json as the export writes it, for the three toy models."""
    models = {r: {"variant": v, "seed": 0, "selection_criterion": c, "test_accuracy": a,
                  "test_accuracy_ci": [a - 0.02, a + 0.02], "test_images": 96, "onnx": f"{r}.onnx",
                  "real_labels": 0, "selection_real_labels": 90 if r == "adapted" else 0}
              for r, v, c, a in (("baseline", "synthetic-1000", "source-only", 0.8125),
                                 ("study", "pseudo-label", "published method", 0.8229),
                                 ("adapted", "balanced", "target_val_acc", 0.9375))}
    card = {"classes": CLASSES, "target_domain": "small photos (16x16 px)", "image_size": 16, "target_side_px": 16,
            "deploy_criterion": "target_val_acc", "models": models,
            "differences": {"adapted": {"vs": "baseline", "diff": 0.125, "ci": [0.05, 0.2]},
                            "study": {"vs": "baseline", "diff": 0.0104, "ci": [-0.03, 0.05]}},
            "adaptation_helps": helps, **extra}
    (d / "card.json").write_text(json.dumps(card))


def toy_models(d: Path, **card) -> Path:
    """baseline/study agree; the adapted model calls red things green (a sure disagreement)."""
    d.mkdir(parents=True, exist_ok=True)
    meta = {"class_names": json.dumps(CLASSES), "input_size": "16"}
    toy_model(d / "baseline.onnx", meta)
    toy_model(d / "study.onnx", meta)
    adapted = toy_model(d / "adapted.onnx", meta)
    proto = onnx.load(str(adapted))
    w = np.array([[0, 4, 0], [4, 0, 0], [0, 0, 4]], np.float32)
    proto.graph.initializer[0].CopyFrom(numpy_helper.from_array(w, "W"))
    onnx.save(proto, str(adapted))
    write_card(d, **card)
    return d


@pytest.fixture
def models(tmp_path) -> Path:
    return toy_models(tmp_path / "models")


def _photo(tmp_path: Path, name: str, color, size=(32, 24)) -> Path:
    path = tmp_path / name
    Image.new("RGB", size, color).save(path)
    return path


def test_three_models_disagreement_unsure_and_labels(models, tmp_path):
    c = Comparer(models, Demo(unsure_threshold=0.6))
    red = _photo(tmp_path, "red.png", (255, 0, 0))
    blue = _photo(tmp_path, "blue.png", (0, 0, 255))
    grey = _photo(tmp_path, "grey.png", (128, 128, 128))
    res = c.compare_paths([red, blue, grey], labels={str(red): "red", str(blue): "green"})
    r, b, g = res["results"]
    assert [r[k]["top_class"] for k in ("baseline", "study", "adapted")] == ["red", "red", "green"]
    assert [r[k]["correct"] for k in ("baseline", "study", "adapted")] == [True, True, False]
    assert r["disagree"] and not r["unsure"] and r["label"] == "red"
    assert not b["disagree"] and b["adapted"]["top_class"] == "blue" and not b["adapted"]["correct"]
    assert g["unsure"] and g["adapted"]["confidence"] == pytest.approx(1 / 3)
    assert "correct" not in g["adapted"]  # no true label, no verdict
    assert res["models"]["adapted"]["test_accuracy"] == 0.9375

    html = render_html(res)
    assert html.count('data-file=') == 3 and html.count("s2r-disagree") == 1
    assert "baseline <b>red</b>, study <b>red</b>, adapted <b>green</b>" in html
    assert html.count("All three say") == 2 and "✓" not in html.split("All three say")[1][:20]
    assert html.count('data-correct="true"') == 2 and html.count('data-correct="false"') == 4
    # "Probably none" leads the grey card: before its thumbnail.
    grey_card = html[html.index('data-file="grey.png"'):]
    assert grey_card.index("Probably none of red/green/blue") < grey_card.index("s2r-thumb")
    assert html.count("Probably none") == 1
    assert "%" in html and "81.25%" not in html  # accuracies live in the header, not on cards


def test_header_states_accuracies_differences_and_domain_once(models):
    info = Comparer(models, Demo()).describe()
    head = render_header(info)
    assert "81.25%" in head and "93.75%" in head and "95% CI 91.75%–95.75%" in head
    assert "+12.50 points" in head and "+5.00 to +20.00" in head and "+1.04 points" in head
    assert "small photos (16x16 px)" in head and "does not help" not in head
    assert "chosen by target_val_acc on 90 labeled real photos" in head
    assert head.count("chosen by") == 1
    assert ("None of the three was trained on a labeled real photo (0 real labels each); the "
            "adapted model&#x27;s choice read 90 labeled real photos, never the test photos."
            in head)
    assert info["models"]["adapted"]["real_labels"] == 0
    info["adaptation_helps"] = False
    assert "On this run, adaptation does not help" in render_header(info)
    assert "data-gap" not in head  # this card predates gap closure: nothing is invented
    info["gap_closure"] = {"mean": 0.62, "ci95": [0.5, 0.74], "seeds": 5}
    info["deployed_claim"] = {"share": 0.7, "verdict": "inconclusive", "text": "..."}
    gap = render_header(info)
    assert ("closes <b class=\"s2r-num\">62.00%</b> <span class=\"s2r-small\">(95% CI "
            "50.00%–74.00%)</span> of the gap" in gap)
    assert "at least 70%: <b>inconclusive</b>" in gap and "over 5 training seeds" in gap


def test_a_card_without_label_counts_says_nothing_of_them(tmp_path):
    """A card exported before the count: the page says nothing rather than a wrong 0."""
    d = toy_models(tmp_path / "m")
    card = json.loads((d / "card.json").read_text())
    for m in card["models"].values():
        del m["real_labels"], m["selection_real_labels"]
    (d / "card.json").write_text(json.dumps(card))
    head = render_header(Comparer(d, Demo()).describe())
    assert "data-real-labels" not in head and "chosen by target_val_acc)" in head


def test_errors_are_one_line_per_file_and_escaped(models, tmp_path):
    c = Comparer(models, Demo(max_upload_mb=0.001))  # ~1 kB limit
    evil = tmp_path / "<img src=x onerror=alert(1)>.jpg"
    evil.write_text("text")
    big = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(big)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    ok = _photo(tmp_path, "ok.png", (0, 255, 0))
    res = c.compare_paths([evil, big, empty, ok])
    e, b, z, o = res["results"]
    assert e["error"].startswith("not a supported image") and e["error_code"] == "unsupported"
    assert b["error"].endswith("kB is over the 0.001 MB limit per file") and b["error_code"] == "too_large"
    assert z["error"] == "the file is empty (0 bytes)" and z["baseline"] is None
    assert o["error"] is None and o["baseline"]["top_class"] == "green"
    html = render_html(res)
    assert "<img src=x" not in html and html.count("&lt;img src=x onerror=alert(1)&gt;.jpg") == 2
    assert html.count("empty.jpg") == 2  # the data-file attribute and the one visible line


def test_pixel_budgets_per_photo_and_per_request(models, tmp_path):
    c = Comparer(models, Demo(max_image_mpx=0.01, max_request_mpx=0.015))  # 10,000 / 15,000 px
    a = _photo(tmp_path, "a.png", (255, 0, 0), (100, 90))  # 9,000 px
    b = _photo(tmp_path, "b.png", (255, 0, 0), (80, 80))  # 6,400 px: over the request's rest
    huge = _photo(tmp_path, "huge.png", (255, 0, 0), (120, 100))  # 12,000 px
    small = _photo(tmp_path, "small.png", (0, 0, 255), (40, 40))
    r = c.compare_paths([a, huge, b, small])["results"]
    assert [x["error_code"] for x in r] == [None, "too_many_pixels", "over_request_budget", None]
    assert "120x100 px (12,000 px) is over the 10,000 px limit per photo" in r[1]["error"]
    assert "over its 0.015 Mpx budget" in r[2]["error"]


def test_large_photo_gets_a_target_domain_caution(tmp_path):
    c = Comparer(toy_models(tmp_path / "m", target_side_px=16.0), Demo())
    big = _photo(tmp_path, "big.png", (0, 0, 255), (200, 100))
    small = _photo(tmp_path, "small.png", (0, 0, 255), (40, 40))
    b, s = c.compare_paths([big, small])["results"]
    assert any("200x100 px, far larger than the photos" in n for n in b["notes"]) and s["notes"] == []


def test_too_many_files_one_notice(models, tmp_path):
    c = Comparer(models, Demo())
    photo = _photo(tmp_path, "p.png", (0, 0, 255))
    res = c.compare_paths([photo] * (MAX_FILES + 9))
    assert len(res["results"]) == MAX_FILES and all(r["error"] is None for r in res["results"])
    assert res["notice"].startswith(f"{MAX_FILES + 9} photos sent; at most {MAX_FILES}")
    assert render_html(res).count(res["notice"]) == 1
    assert c.compare(None)["results"] == [] and "Upload photos" in render_html(c.compare([]))


def test_file_objects_are_read_like_paths(models, tmp_path):
    c = Comparer(models, Demo())
    path = _photo(tmp_path, "b.png", (0, 0, 255))
    with path.open("rb") as fh:
        (r,) = c.compare([Upload("b.png", fh, path.stat().st_size)])["results"]
    assert r["adapted"]["top_class"] == "blue" and r["file"] == "b.png"


def test_missing_files_are_named_with_the_fix(tmp_path, models):
    with pytest.raises(FileNotFoundError, match=r"card.json not found .*make reproduce"):
        Comparer(tmp_path, Demo())
    (models / "study.onnx").unlink()
    with pytest.raises(FileNotFoundError, match=r"study.onnx not found .*make reproduce"):
        Comparer(models, Demo())


def test_the_three_models_of_a_request_run_side_by_side(models, tmp_path):
    """Each model runs in its own thread at the same time (onnxruntime releases the GIL): a
    photo costs about one model's time, not the sum; the answers stay each model's own."""
    import threading
    import time

    c = Comparer(models, Demo())
    started, inside = threading.Barrier(3, timeout=5), []
    for role, p in c.predictors.items():
        plain = p.predict_batch

        def slow(batch, names, plain=plain, role=role):
            started.wait()  # all three models must be running at once to get past this
            inside.append((role, threading.current_thread().name))
            time.sleep(0.2)
            return plain(batch, names)

        p.predict_batch = slow
    red = _photo(tmp_path, "red.png", (255, 0, 0))
    t0 = time.perf_counter()
    r = c.compare_paths([red])["results"][0]
    assert time.perf_counter() - t0 < 0.5  # three 0.2 s models, not 0.6 s in a row
    assert [r[k]["top_class"] for k in ("baseline", "study", "adapted")] == ["red", "red", "green"]
    assert sorted(role for role, _ in inside) == ["adapted", "baseline", "study"]
    assert len({name for _, name in inside}) == 3 and all(n.startswith("s2r-model") for _, n in inside)
    c.close()
