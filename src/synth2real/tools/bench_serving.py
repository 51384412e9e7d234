"""Serving speed: the demo server's JSON API and Gradio endpoint, onnxruntime vs eager torch.

    main(Path("models"), [photo, ...])

prints (a) p50/p95 latency of one 32 px photo through `POST /api/v1/predict`
(all three models) of `demo/app.py` started as a real server process, beside
the same photo through the Gradio endpoint `/compare` with `gradio_client`
(as a ratio), and (b) images/s of the full classifier (backbone + head) in
onnxruntime and in eager PyTorch at batch 1 and 32, measured side by side in
this run, as ratios. Numbers depend on the machine; ratios travel better.

`/compare` is timed with one SSL context handed to `gradio_client` (`ssl_verify=`),
as docs/deploy-and-demo.md recommends, and with the client's defaults: by default it
builds a new HTTP client for the upload, for the call and for the event stream of
every prediction, and each build loads the CA certificates (tens of ms each, the
largest part of a call's time; `http_client_build_ms` prints what one costs here).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from synth2real.tools.checkout import find_checkout

LATENCY_WARMUP = 5
LATENCY_REQUESTS = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_demo(models: Path | None, log: Path, examples_csv: Path | None = None,
                 config: Path | None = None, startup_s: float = 180.0,
                 env: dict[str, str] | None = None, args: Sequence[str] = ()) -> Iterator[str]:
    """Start the checkout's `demo/app.py` on a free port as its own process; yield its URL once
    /healthz answers; stop it (SIGTERM, as a service manager would) after.

    `models`: the models folder, served without example photos unless `examples_csv` names
    them; None leaves the choice to `args` (e.g. ["--newest-run", "runs"]).
    """
    app = find_checkout() / "demo" / "app.py"
    if not app.is_file():
        raise FileNotFoundError(f"{app} not found: the demo page belongs to the checkout")
    port = free_port()
    cmd = [sys.executable, str(app), "--port", str(port), *args]
    if models is not None:
        cmd += ["--models", str(models), "--examples", str(examples_csv or "")]
    if config is not None:
        cmd += ["--config", str(config)]
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", **(env or {})}
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + startup_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"demo exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(url + "healthz", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                raise RuntimeError(f"demo not up after {startup_s:.0f} s:\n{log.read_text()[-4000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def compare_latency(url: str, images: Sequence[Path], n: int | None = None,
                    shared_ssl: bool = True) -> np.ndarray:
    """Seconds per single-photo `/compare` call (upload + queue + three models + reply).

    `shared_ssl`: hand the client one SSL context for all its connections (what the docs
    recommend) instead of letting it load the CA certificates for each one.
    """
    n = n or LATENCY_REQUESTS
    import ssl

    from gradio_client import Client, handle_file

    # gradio_client passes `ssl_verify` on as httpx's `verify`, which takes a ready context.
    extra = {"ssl_verify": ssl.create_default_context()} if shared_ssl else {}
    client = Client(url, verbose=False, analytics_enabled=False, download_files=False, **extra)
    times = []
    for i in range(LATENCY_WARMUP + n):
        t0 = time.perf_counter()
        _, result = client.predict([handle_file(str(images[i % len(images)]))], api_name="/compare")
        dt = time.perf_counter() - t0
        if result["results"][0]["error"]:
            raise RuntimeError(f"/compare failed on {images[i % len(images)]}: "
                               f"{result['results'][0]['error']}")
        if i >= LATENCY_WARMUP:
            times.append(dt)
    return np.array(times)


def api_latency(url: str, photo: Path, n: int | None = None) -> np.ndarray:
    """Seconds per `POST /api/v1/predict` of one photo (upload, three models, JSON reply), on
    one kept-alive connection as a program would use it."""
    import httpx

    n = n or LATENCY_REQUESTS
    data = photo.read_bytes()
    times = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in range(LATENCY_WARMUP + n):
            t0 = time.perf_counter()
            r = client.post("api/v1/predict", files=[("files", (photo.name, data))])
            dt = time.perf_counter() - t0
            if r.status_code != 200 or r.json()["results"][0]["error"]:
                raise RuntimeError(f"/api/v1/predict failed on {photo}: {r.status_code} {r.text[:300]}")
            if i >= LATENCY_WARMUP:
                times.append(dt)
    return np.array(times)


def http_client_build_ms(n: int = 5) -> float:
    """Median ms to build (and close) one `httpx.Client` with default settings, as
    gradio_client does for each request it sends."""
    import httpx

    times = []
    for _ in range(n + 1):
        t0 = time.perf_counter()
        httpx.Client().close()
        times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times[1:]))  # the first also imports and warms up


def small_photo(src: Path, dest: Path, side: int = 32) -> Path:
    """`src` resized to side x side (JPEG): the size of the target domain's photos."""
    from PIL import Image

    with Image.open(src) as im:
        im.convert("RGB").resize((side, side), Image.BILINEAR).save(dest, quality=95)
    return dest


def images_per_s(fn: Callable[[], object], batch: int, min_s: float = 2.0, min_reps: int = 3) -> float:
    """Throughput of `fn` (one batch per call) after one warm-up call."""
    fn()
    reps, t0 = 0, time.perf_counter()
    while reps < min_reps or time.perf_counter() - t0 < min_s:
        fn()
        reps += 1
    return reps * batch / (time.perf_counter() - t0)


def in_process_latency(models_dir: Path, images: Sequence[Path], n: int | None = None) -> np.ndarray:
    """Seconds per `Comparer.compare` of one photo without the server (load, models, HTML)."""
    n = n or LATENCY_REQUESTS
    from synth2real.serve.compare import Comparer
    from synth2real.serve.html import render_html

    comparer = Comparer(models_dir)
    times = []
    for i in range(LATENCY_WARMUP + n):
        t0 = time.perf_counter()
        render_html(comparer.compare_paths([images[i % len(images)]], thumbnails=True))
        if i >= LATENCY_WARMUP:
            times.append(time.perf_counter() - t0)
    return np.array(times)


def throughput(models_dir: Path, images: Sequence[Path],
               threads: int | None = None) -> list[tuple[int, float, float, float]]:
    """(batch, onnxruntime images/s, torch images/s, max |Δlogit|) for batch 1 and 32.

    `threads`: intra-op threads of both engines (None: each engine's default, all cores).

    The eager model is rebuilt from the sources the export recorded in
    `<models_dir>/parity.json` (backbone weights, head), so both engines run
    the same weights.
    """
    import torch

    from synth2real.model import head
    from synth2real.model.backbone import load_backbone, max_abs_diff, ort_session
    from synth2real.model.export import deployable
    from synth2real.predict import Predictor, load_image, preprocess
    from synth2real.store import read_json

    report_path = models_dir / "parity.json"
    if not report_path.is_file():
        raise FileNotFoundError(f"{report_path} not found: export the models first (make reproduce)")
    report = read_json(report_path)
    head_pt = Path(report["models"]["adapted"]["head"])
    if not head_pt.is_absolute():  # recorded relative to the workflow's working directory
        head_pt = models_dir.parent / head_pt
    model = deployable(load_backbone(report["backbone_weights"]), head.load(head_pt)[0])
    onnx_path = models_dir / "adapted.onnx"
    size = Predictor(onnx_path).input_size
    session = ort_session(onnx_path, threads=threads)
    torch_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    pixels = [preprocess(load_image(p), size) for p in images]
    out = []
    for bs in (1, 32):
        batch = np.stack([pixels[i % len(pixels)] for i in range(bs)])
        tensor = torch.from_numpy(batch)

        def run_torch(tensor: torch.Tensor = tensor) -> np.ndarray:
            with torch.inference_mode():
                return model(tensor).numpy()

        def run_ort(batch: np.ndarray = batch) -> np.ndarray:
            return session.run(None, {"image": batch})[0]

        diff = max_abs_diff(run_torch(), run_ort())
        out.append((bs, images_per_s(run_ort, bs), images_per_s(run_torch, bs), diff))
    torch.set_num_threads(torch_threads)
    return out


def main(models_dir: Path, images: list[Path]) -> None:
    """Print the serving benchmark (see module docstring)."""
    import torch

    if not images:
        raise ValueError("bench_serving.main needs at least one image file")
    models_dir = Path(models_dir)
    cores = os.cpu_count()
    print(f"serving benchmark: models {models_dir}, {len(images)} photos, {cores} CPU cores, "
          f"torch threads {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as tmp:
        photo = small_photo(images[0], Path(tmp) / "photo32.jpg")
        with running_demo(models_dir, Path(tmp) / "demo.log") as url:
            a = api_latency(url, photo) * 1000
            t = compare_latency(url, [photo]) * 1000
            d = compare_latency(url, [photo], shared_ssl=False) * 1000
        m = in_process_latency(models_dir, [photo]) * 1000
    build = http_client_build_ms()
    print(f"  POST /api/v1/predict, one 32 px photo, three models, {len(a)} requests: "
          f"p50 {np.percentile(a, 50):.1f} ms, p95 {np.percentile(a, 95):.1f} ms")
    print(f"  Gradio /compare (gradio_client, one SSL context), same photo: "
          f"p50 {np.percentile(t, 50):.1f} ms, p95 {np.percentile(t, 95):.1f} ms -> "
          f"/compare / API = {np.percentile(t, 50) / np.percentile(a, 50):.1f}x")
    print(f"    with gradio_client's defaults (a new HTTP client for its upload, call and event "
          f"stream; {build:.0f} ms to build one here): p50 {np.percentile(d, 50):.1f} ms, "
          f"p95 {np.percentile(d, 95):.1f} ms")
    print(f"    of which in-process (decode, three models side by side, HTML; no server): "
          f"p50 {np.percentile(m, 50):.1f} ms, p95 {np.percentile(m, 95):.1f} ms")
    # Default threads is what users get; one thread each is the contention-robust comparison
    # (busy-waiting thread pools suffer most when other processes share the cores).
    for threads in (None, 1):
        label = "default threads" if threads is None else "1 thread each"
        for bs, ort_rate, torch_rate, diff in throughput(models_dir, images, threads):
            print(f"  full classifier, {label}, batch {bs:>2}: onnxruntime {ort_rate:7.1f} "
                  f"images/s, eager torch {torch_rate:7.1f} images/s -> onnxruntime/torch = "
                  f"{ort_rate / torch_rate:.2f}x (max |dlogit| {diff:.1e})")


def _cli(argv: Sequence[str] | None = None) -> None:
    """`python -m synth2real.tools.bench_serving MODELS PHOTO...`"""
    ap = argparse.ArgumentParser(prog="python -m synth2real.tools.bench_serving",
                                 description=(__doc__ or "").splitlines()[0])
    ap.add_argument("models", type=Path,
                    help="folder with card.json, the three ONNX models and parity.json")
    ap.add_argument("photos", type=Path, nargs="+", help="image files to classify")
    args = ap.parse_args(argv)
    main(args.models, args.photos)


if __name__ == "__main__":
    _cli()
