"""The demo server as a real process (the session's `demo_url`, started with a non-default
`demo:` section): its JSON API over HTTP and its Gradio endpoint through `gradio_client`."""

from __future__ import annotations

import io
import json
import statistics
import struct
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

import httpx
import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from synth2real.data import manifests
from synth2real.predict import Predictor
from synth2real.serve.compare import MAX_FILES
from synth2real.tools.bench_serving import running_demo
from tests.conftest import DEMO_MAX_UPLOAD_MB, DEMO_UNSURE

ROLES = ("baseline", "study", "adapted")
# The bound on the server's memory under the bad-input suite.
RSS_LIMIT_MB = 600
# How long a one-photo request may take while large requests are being decoded.
SMALL_REQUEST_ALLOWANCE_S = 1.0


@pytest.fixture(scope="module")
def client(demo_url):
    return Client(demo_url, verbose=False, analytics_enabled=False, download_files=False)


@pytest.fixture(scope="module")
def api(demo_url):
    with httpx.Client(base_url=demo_url, timeout=120) as c:
        yield c


@pytest.fixture(scope="module")
def card(tiny_run) -> dict:
    return json.loads((tiny_run / "models" / "card.json").read_text())


@pytest.fixture(scope="module")
def photos(tiny_run) -> list[str]:
    rows = manifests.read_csv(tiny_run / "results" / "data" / "real_test.csv")
    return [r["path"] for r in rows[::7]]  # a few of each class


def _compare(client: Client, paths) -> tuple[str, dict]:
    return client.predict([handle_file(str(p)) for p in paths], api_name="/compare")


def _post(api: httpx.Client, named: list[tuple[str, bytes]]) -> httpx.Response:
    return api.post("api/v1/predict", files=[("files", (n, b)) for n, b in named])


def server_pid(url: str) -> int:
    """The demo process serving `url` (the one started with its --port)."""
    port = str(urlparse(url).port)
    for proc in Path("/proc").iterdir():
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(a.endswith(b"demo/app.py") for a in args) and port.encode() in args:
            return int(proc.name)
    raise AssertionError(f"no demo/app.py process with --port {port}")


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (peak) of a process, in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {k: int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM")}


# ------------------------------------------------------ same numbers ------


def test_api_and_compare_equal_onnxruntime_for_all_three_models(client, api, tiny_run, card, photos):
    html, via_ui = _compare(client, photos)
    r = _post(api, [(Path(p).name, Path(p).read_bytes()) for p in photos])
    assert r.status_code == 200
    via_api = r.json()
    assert via_ui["unsure_threshold"] == via_api["unsure_threshold"] == DEMO_UNSURE
    for result in (via_ui, via_api):
        assert [x["file"] for x in result["results"]] == [Path(p).name for p in photos]
        assert result["classes"] == card["classes"]
        for role in ROLES:
            assert result["models"][role]["variant"] == card["models"][role]["variant"]
            assert result["models"][role]["test_accuracy"] == card["models"][role]["test_accuracy"]
            direct = Predictor(tiny_run / "models" / card["models"][role]["onnx"]).predict_files(photos)
            for got, exp in zip(result["results"], direct):
                assert got["error"] is None and got[role]["top_class"] == exp.top_class
                np.testing.assert_allclose(got[role]["logits"], exp.logits, atol=1e-5)
                assert got[role]["probabilities"] == pytest.approx(exp.probabilities, abs=1e-6)
        for x in result["results"]:
            tops = {x[role]["top_class"] for role in ROLES}
            assert x["disagree"] == (len(tops) > 1)
            assert x["unsure"] == (max(x[role]["confidence"] for role in ROLES) < DEMO_UNSURE)
            assert "thumbnail" not in x  # results carry no image data
    assert html.count("data-file=") == len(photos)
    assert all(html.count(f'data-role="{role}"') == len(photos) for role in ROLES)


def test_named_endpoints_and_healthz(client, api, card):
    assert list(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) == ["/compare"]
    h = api.get("healthz").json()
    assert h["status"] == "ok" and set(h["models"]) == set(ROLES)
    assert {r: m["variant"] for r, m in h["models"].items()} == {
        r: card["models"][r]["variant"] for r in ROLES}
    assert h["versions"]["onnxruntime"] and h["limits"]["max_upload_mb"] == DEMO_MAX_UPLOAD_MB
    # The bad-input suite's 36 Mpx photo is meant to be over the per-photo budget.
    assert h["limits"]["max_image_mpx"] < 36


# ------------------------------------------------------- bad inputs -------


def _png_header(w: int, h: int) -> bytes:
    """A PNG whose header claims w x h (1-bit) with almost no data: a decompression bomb."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def _encoded(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _jpeg() -> bytes:
    rng = np.random.default_rng(1)
    return _encoded(Image.fromarray(rng.integers(0, 255, (96, 96, 3), dtype=np.uint8)), "JPEG")


def _gif() -> bytes:
    frames = [Image.new("RGB", (40, 40), c) for c in ((200, 30, 30), (30, 30, 200))]
    return _encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def _big_png(side: int) -> bytes:
    """side x side px of one colour: a few kB that decode to side² pixels."""
    return _encoded(Image.new("RGB", (side, side), (90, 140, 60)), "PNG", optimize=True)


# name -> (bytes, error_code or None when classified, words the one message must contain)
BAD = {
    "zero.jpg": (lambda: b"", "empty", "the file is empty (0 bytes)"),
    "text.jpg": (lambda: b"this is a text file, renamed", "unsupported", "not a supported image"),
    "logo.svg": (lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"/>',
                 "unsupported", "not a supported image"),
    "truncated.jpg": (lambda: _jpeg()[:700], "corrupt", "corrupt or truncated"),
    "bomb.png": (lambda: _png_header(40000, 40000), "too_many_pixels", "far over the pixel limit"),
    "36mpx.png": (lambda: _big_png(6000), "too_many_pixels", "6000x6000 px (36.0 Mpx) is over the"),
    "one.png": (lambda: _encoded(Image.new("RGB", (1, 1)), "PNG"), "too_small", "1x1 px is too small"),
    "big.jpg": (lambda: b"\xff\xd8" + np.random.default_rng(0).bytes(int(1.5 * DEMO_MAX_UPLOAD_MB * 2**20)),
                "too_large", f"over the {DEMO_MAX_UPLOAD_MB:g} MB limit per file"),
    "anim.gif": (_gif, None, "animated image with 2 frames; the first frame is classified"),
    "cmyk.jpg": (lambda: _encoded(Image.new("CMYK", (40, 40), (0, 255, 255, 0)), "JPEG"), None, None),
    "gray16.png": (lambda: _encoded(Image.fromarray(np.full((40, 40), 40000, np.uint16)), "PNG"),
                   None, None),
    "rgba.png": (lambda: _encoded(Image.new("RGBA", (40, 40), (255, 0, 0, 128)), "PNG"), None, None),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_input_gets_one_clear_message_and_the_next_request_works(api, client, photos, tmp_path,
                                                                   name):
    make, code, words = BAD[name]
    r = _post(api, [(name, make())])
    assert r.status_code == 200
    (x,) = r.json()["results"]
    assert x["file"] == name and x["error_code"] == code
    if code is None:
        assert x["error"] is None and all(x[role]["top_class"] for role in ROLES)
        assert words is None or x["notes"] == [words]
    else:
        assert words in x["error"] and name not in x["error"] and all(x[r] is None for r in ROLES)
        assert "bytes not processed" not in x["error"] and "Pillow" not in x["error"]
    if code != "too_large":  # the page refuses over-size files at upload (next test)
        path = tmp_path / name
        path.write_bytes(make())
        html, _ = _compare(client, [path])
        if code:
            assert html.count(name) == 2 and words in html  # data-file and the one line
        else:
            assert "s2r-error" not in html and html.count('data-role="adapted"') == 1
    ok = _post(api, [(Path(photos[0]).name, Path(photos[0]).read_bytes())])
    assert ok.status_code == 200 and ok.json()["results"][0]["error"] is None


def test_over_limit_upload_is_refused_by_the_page_and_server_stays_up(client, photos, tmp_path):
    big = tmp_path / "big.jpg"
    big.write_bytes(BAD["big.jpg"][0]())
    with pytest.raises(Exception, match="(?i)size|large|exceed"):
        _compare(client, [big])
    _, ok = _compare(client, photos[:1])
    assert ok["results"][0]["error"] is None


def test_too_many_files_and_bad_requests(api, photos):
    one = (Path(photos[0]).name, Path(photos[0]).read_bytes())
    r = _post(api, [one] * 25)
    assert r.status_code == 413 and r.json() == {
        "error": f"25 files in one request; at most {MAX_FILES}: send the rest in another request"}
    r = api.post("api/v1/predict", json={"files": []})
    assert r.status_code == 415 and "multipart/form-data" in r.json()["error"]
    r = api.post("api/v1/predict", files=[("photo", one)])
    assert r.status_code == 400 and "no photos" in r.json()["error"]
    assert _post(api, [one]).status_code == 200


def test_memory_and_small_request_latency_under_large_requests(demo_url, api, photos):
    """Large requests (16 files: photos just under the per-photo budget, 36 Mpx, bombs) in
    flight: a one-photo request still answers within the allowance, and the server's peak
    RSS stays under the bound."""
    pid = server_pid(demo_url)
    limits = api.get("healthz").json()["limits"]
    side = int((limits["max_image_mpx"] * 1e6) ** 0.5 * 0.98)  # just under the per-photo budget
    accepted = min(12, int(limits["max_request_mpx"] * 1e6 // side**2))
    large = [("large.png", _big_png(side))] * 12 + [("36mpx.png", _big_png(6000)),
                                                   ("bomb.png", _png_header(40000, 40000))] * 2
    small = [(Path(photos[1]).name, Path(photos[1]).read_bytes())]
    done: list[float] = []

    def heavy() -> None:
        with httpx.Client(base_url=demo_url, timeout=300) as c:
            r = _post(c, large)
            done.append(time.monotonic())
            codes = [x["error_code"] for x in r.json()["results"]]
            assert codes.count(None) == accepted
            assert codes.count("over_request_budget") == 12 - accepted

    threads = [threading.Thread(target=heavy) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # the large uploads are in and being decoded
    latencies = []
    for _ in range(7):
        t0 = time.perf_counter()
        assert _post(api, small).json()["results"][0]["error"] is None
        latencies.append(time.perf_counter() - t0)
    last_small = time.monotonic()
    for t in threads:
        t.join()
    mem = memory_mb(pid)
    print(f"\nsmall request under load: median {statistics.median(latencies) * 1000:.0f} ms, "
          f"max {max(latencies) * 1000:.0f} ms; server RSS {mem['VmRSS']:.0f} MB, "
          f"peak {mem['VmHWM']:.0f} MB")
    assert len(done) == 3 and max(done) > last_small, "the large requests ended too soon to measure"
    assert statistics.median(latencies) < SMALL_REQUEST_ALLOWANCE_S, latencies
    assert mem["VmHWM"] < RSS_LIMIT_MB


# ------------------------------------------------------ concurrency -------


def test_16_concurrent_clients_10_requests_each(demo_url, client, photos):
    # By position: photos of different classes may share a file name.
    expected = [r["adapted"]["top_class"] for r in _compare(client, photos)[1]["results"]]
    assert len(expected) == len(photos)

    def session(k: int) -> list[str]:
        c = Client(demo_url, verbose=False, analytics_enabled=False, download_files=False)
        errors = []
        for i in range(10):
            j = (k + i) % len(photos)
            _, res = _compare(c, [photos[j]])
            (r,) = res["results"]
            if r["error"] or r["adapted"]["top_class"] != expected[j]:
                errors.append(f"client {k} request {i}: {r}")
        return errors

    with ThreadPoolExecutor(16) as pool:
        errors = [e for errs in pool.map(session, range(16)) for e in errs]
    assert errors == []


# ------------------------------------------------------------ life ---------


def test_example_copies_are_removed_when_the_server_stops(tiny_run, card, tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    with running_demo(tiny_run / "models", tmp_path / "demo.log",
                      examples_csv=tiny_run / "results" / "data" / "real_test.csv",
                      env={"TMPDIR": str(tmp)}):
        (copies,) = tmp.glob("synth2real-examples-*")
        assert len(list(copies.iterdir())) == 2 * len(card["classes"])  # 2 per class
    assert not copies.exists()
    assert "removed" in (tmp_path / "demo.log").read_text()


def test_newest_run_is_served_with_its_own_settings_and_named(tiny_run, tmp_path):
    """`make demo` without CONFIG/MODELS: of two runs under runs/, the one exported last is
    served, with the `demo:` section it was made with and its own example photos; the log
    says which run."""
    import os
    import shutil

    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "older").symlink_to(tiny_run)
    newer = runs / "newer"
    shutil.copytree(tiny_run / "models", newer / "models")
    (newer / "results" / "data").mkdir(parents=True)
    shutil.copy(tiny_run / "results" / "data" / "real_test.csv", newer / "results" / "data")
    record = json.loads((tiny_run / "results" / "provenance.json").read_text())
    record["config"]["demo"]["unsure_threshold"] = 0.9
    (newer / "results" / "provenance.json").write_text(json.dumps(record))
    card = newer / "models" / "card.json"
    later = (tiny_run / "models" / "card.json").stat().st_mtime + 60
    os.utime(card, (later, later))
    with running_demo(None, tmp_path / "demo.log", args=["--newest-run", str(runs)]) as url:
        health = httpx.get(url + "healthz", timeout=60).json()
        page = httpx.get(url + "config", timeout=60).text  # the page's components
        photo = Path(manifests.read_csv(tiny_run / "results" / "data" / "real_test.csv")[0]["path"])
        result = httpx.post(url + "api/v1/predict", timeout=60,
                            files=[("files", (photo.name, photo.read_bytes()))]).json()
    log = (tmp_path / "demo.log").read_text()
    assert f"serving {newer} (models exported " in log and "the newest run" in log
    assert health["status"] == "ok" and result["unsure_threshold"] == 0.9
    assert result["results"][0]["error"] is None
    assert "Examples from the run's real test set" in page


def test_gradio_client_with_one_ssl_context_gets_the_same_answer(demo_url, client, photos):
    """What docs/deploy-and-demo.md recommends (and `make bench` times): gradio_client given
    one SSL context for all its connections answers exactly as with its defaults."""
    import ssl

    from synth2real.tools.bench_serving import compare_latency

    fast = Client(demo_url, verbose=False, analytics_enabled=False, download_files=False,
                  ssl_verify=ssl.create_default_context())
    _, a = _compare(fast, photos[:2])
    _, b = _compare(client, photos[:2])
    assert [r["adapted"]["logits"] for r in a["results"]] == [r["adapted"]["logits"]
                                                              for r in b["results"]]
    times = compare_latency(demo_url, photos[:1], n=3)
    assert len(times) == 3 and all(0 < t < 30 for t in times)
