"""The Gradio demo as a real server on a free port (the session's `demo_url`, started with a
non-default `demo:` section), driven through `gradio_client`."""

from __future__ import annotations

import io
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from synth2real.data import manifests
from synth2real.predict import Predictor
from tests.conftest import DEMO_MAX_UPLOAD_MB, DEMO_UNSURE


@pytest.fixture(scope="module")
def client(demo_url):
    return Client(demo_url, verbose=False, analytics_enabled=False, download_files=False)


@pytest.fixture(scope="module")
def photos(tiny_run) -> list[str]:
    rows = manifests.read_csv(tiny_run / "results" / "data" / "real_test.csv")
    return [r["path"] for r in rows[::7]]  # a few of each class


def _compare(client: Client, paths) -> tuple[str, dict]:
    return client.predict([handle_file(str(p)) for p in paths], api_name="/compare")


def test_compare_endpoint_equals_onnx_outputs(client, tiny_run, photos):
    html, result = _compare(client, photos)
    assert [r["file"] for r in result["results"]] == [Path(p).name for p in photos]
    assert result["classes"] == ["dog", "cat", "bird"] and result["unsure_threshold"] == DEMO_UNSURE
    assert result["models"]["baseline"]["variant"] == "synthetic-20"
    assert result["models"]["adapted"]["variant"] == "pseudo-label"
    for role in ("baseline", "adapted"):
        direct = Predictor(tiny_run / "models" / f"{role}.onnx").predict_files(photos)
        for got, exp in zip(result["results"], direct):
            assert got["error"] is None
            assert got[role]["top_class"] == exp.top_class
            np.testing.assert_allclose(got[role]["logits"], exp.logits, atol=1e-5)
            assert got[role]["probabilities"] == pytest.approx(exp.probabilities, abs=1e-6)
    for r in result["results"]:
        assert r["disagree"] == (r["baseline"]["top_class"] != r["adapted"]["top_class"])
        assert r["unsure"] == (max(r["baseline"]["confidence"], r["adapted"]["confidence"]) < DEMO_UNSURE)
        assert "thumbnail" not in r  # the API result carries no image data
    # Every photo gets a card naming both models' top classes.
    assert html.count("data-file=") == len(photos)
    assert html.count('data-role="baseline"') == html.count('data-role="adapted"') == len(photos)


def test_api_exposes_only_compare(client):
    api = client.view_api(print_info=False, return_format="dict")
    assert list(api["named_endpoints"]) == ["/compare"]


# ------------------------------------------------------------ bad uploads --


def _png_header(w: int, h: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def _jpeg_bytes() -> bytes:
    buf = io.BytesIO()
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 255, (96, 96, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def _gif(path: Path) -> None:
    frames = [Image.new("RGB", (40, 40), c) for c in ((200, 30, 30), (30, 30, 200))]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)


BAD = {
    "text.jpg": (lambda p: p.write_text("this is a text file, renamed"), "not an image file"),
    "truncated.jpg": (lambda p: p.write_bytes(_jpeg_bytes()[:700]), "corrupt or truncated"),
    "zero.jpg": (lambda p: p.write_bytes(b""), "empty (0 bytes)"),
    "bomb.png": (lambda p: p.write_bytes(_png_header(40000, 40000)), "decompression bomb"),
    "one.png": (lambda p: Image.new("RGB", (1, 1), (9, 9, 9)).save(p), "1x1 px"),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_upload_gets_message_and_next_request_works(client, photos, tmp_path, name):
    make, message = BAD[name]
    path = tmp_path / name
    make(path)
    html, result = _compare(client, [path])
    (r,) = result["results"]
    assert r["file"] == name and message in r["error"]
    assert r["baseline"] is None and r["adapted"] is None
    assert "Could not classify" in html and message in html
    _, ok = _compare(client, photos[:1])
    assert ok["results"][0]["error"] is None and ok["results"][0]["adapted"]["top_class"]


def test_animated_gif_is_classified_on_first_frame_with_note(client, photos, tmp_path):
    path = tmp_path / "anim.gif"
    _gif(path)
    html, result = _compare(client, [path, photos[0]])
    gif, good = result["results"]
    assert gif["error"] is None and gif["adapted"]["top_class"] in result["classes"]
    assert gif["notes"] == ["anim.gif: animated image with 2 frames; the first frame is classified"]
    assert "first frame is classified" in html
    assert good["error"] is None


def test_mixed_batch_keeps_good_results(client, photos, tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_text("text")
    _, result = _compare(client, [photos[0], bad, photos[1]])
    assert [r["error"] is None for r in result["results"]] == [True, False, True]


def test_upload_over_limit_is_refused_and_server_stays_up(client, photos, tmp_path):
    big = tmp_path / "big.jpg"
    # Over the configured limit, well under the default 10 MB: the `demo:` section reached the server.
    big.write_bytes(b"\xff\xd8" + np.random.default_rng(0).bytes(int(1.5 * DEMO_MAX_UPLOAD_MB * 2**20)))
    with pytest.raises(Exception, match="(?i)size|large|exceed"):
        _compare(client, [big])
    _, ok = _compare(client, photos[:1])
    assert ok["results"][0]["error"] is None


# ------------------------------------------------------------ concurrency --


def test_16_concurrent_clients_10_requests_each(demo_url, client, photos):
    expected = {r["file"]: r["adapted"]["top_class"] for r in _compare(client, photos)[1]["results"]}

    def session(k: int) -> list[str]:
        c = Client(demo_url, verbose=False, analytics_enabled=False, download_files=False)
        errors = []
        for i in range(10):
            p = photos[(k + i) % len(photos)]
            _, res = _compare(c, [p])
            (r,) = res["results"]
            if r["error"] or r["adapted"]["top_class"] != expected[Path(p).name]:
                errors.append(f"client {k} request {i}: {r}")
        return errors

    with ThreadPoolExecutor(16) as pool:
        errors = [e for errs in pool.map(session, range(16)) for e in errs]
    assert errors == []
