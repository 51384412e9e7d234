"""Three models on the same photos: the comparison behind the demo page and its JSON API.

Kept free of Gradio and FastAPI so it is unit-tested directly and reused by
`bench_serving`; built on the deploy-side `predict` module only (onnxruntime,
numpy, Pillow), so the demo sees exactly what a deployer's code sees.

Cost is bounded by decoded pixels, not file size: every photo's header is read
first (no decoding) and checked against the per-photo and per-request budgets
of the `demo:` config; photos over 4x the model input are decoded reduced.
Work runs in two lanes so a small request never queues behind large ones: a
request of at most LIGHT_PIXELS in all runs in the light lane (two workers),
anything bigger in the heavy lane (one worker, which also bounds memory: one
large decode at a time). Within a request the three models run side by side,
one onnxruntime thread each (`Comparer.pool`), so a photo costs about one
model's time on three cores and half the sum on two, not the sum.

`Comparer.compare(uploads)` returns a JSON-ready dict:

    {"classes": [...], "unsure_threshold": t, "target_domain": "...",
     "adaptation_helps": bool, "differences": {...}, "limits": {...},
     "models": {role: {"role", "variant", "seed", "selection_criterion", "test_accuracy",
                       "test_accuracy_ci", "test_images", "onnx", "providers",
                       "real_labels", "selection_real_labels"}},
     "notice": str | None,
     "results": [{"file", "label", "error", "error_code", "notes", "width", "height",
                  "baseline" | "study" | "adapted": {"top_class", "confidence",
                                                     "probabilities", "logits"[, "correct"]} | None,
                  "disagree": bool, "unsure": bool[, "thumbnail"]}]}
"""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
import io
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from PIL import Image

from synth2real.config import Demo
from synth2real.predict import ImageError, ImageHeader, load_image, preprocess, read_header
from synth2real.serve.models import ROLES, load_models

# One request classifies at most this many photos.
MAX_FILES = 16
# Side of the thumbnail embedded in a page's result card (the original is never sent back).
THUMB_SIDE = 192
# Requests with at most this many pixels in all take the light lane (sixteen 320x320 photos).
LIGHT_PIXELS = 16 * 320 * 320
# A photo whose shorter side is over this multiple of the target domain's gets a caution.
UNLIKE_FACTOR = 4


@dataclass(frozen=True)
class Upload:
    """One uploaded file: its name as the user knows it, the bytes (a path or a file object)
    and, for the page's example photos, the true class."""

    name: str
    source: str | Path | IO[bytes]
    size: int
    label: str | None = None

    @staticmethod
    def from_path(path: str | Path, label: str | None = None) -> Upload:
        try:
            size = os.path.getsize(path)
        except OSError:
            size = -1  # load_image names the problem
        return Upload(Path(path).name, path, size, label)


class Comparer:
    """The three exported models of a run, loaded once; thread-safe (onnxruntime sessions are)."""

    def __init__(self, models_dir: str | Path, settings: Demo | None = None,
                 providers: Sequence[str] | None = None, threads: int | None = 1) -> None:
        """`threads`: onnxruntime threads per model; one each lets concurrent requests share
        the cores instead of fighting."""
        self.settings = settings or Demo()
        self.models = load_models(models_dir, providers, threads)
        self.predictors = self.models.predictors
        self.classes = self.models.classes
        self.unsure_threshold = self.settings.unsure_threshold
        self.max_upload_bytes = int(self.settings.max_upload_mb * 2**20)
        self.max_image_pixels = int(self.settings.max_image_mpx * 1e6)
        self.max_request_pixels = int(self.settings.max_request_mpx * 1e6)
        self.target_side = self.models.target_side
        self.input_size = max(p.input_size for p in self.predictors.values())
        self.light = ThreadPoolExecutor(2, thread_name_prefix="s2r-light")
        self.heavy = ThreadPoolExecutor(1, thread_name_prefix="s2r-heavy")
        # One thread per model: a request's three models run at once (onnxruntime releases
        # the GIL); shared by both lanes, so concurrent requests still share the cores.
        self.pool = ThreadPoolExecutor(len(ROLES), thread_name_prefix="s2r-model")
        # onnxruntime plans its kernels on the first run (seconds): pay that at startup,
        # not on the first visitor's request.
        for p in self.predictors.values():
            p.logits(np.zeros((1, 3, p.input_size, p.input_size), np.float32))

    def close(self) -> None:
        self.light.shutdown(wait=False, cancel_futures=True)
        self.heavy.shutdown(wait=False, cancel_futures=True)
        self.pool.shutdown(wait=False, cancel_futures=True)

    def describe(self) -> dict[str, Any]:
        """The models and the page's facts (accuracies, differences, target domain, limits)."""
        m = self.models
        return {
            "classes": self.classes, "unsure_threshold": self.unsure_threshold,
            "target_domain": m.target_domain, "target_side": self.target_side,
            "deploy_criterion": m.deploy_criterion, "adaptation_helps": m.adaptation_helps,
            "differences": m.differences, "interval": m.interval,
            "gap_closure": m.gap_closure, "deployed_claim": m.deployed_claim,
            "models": {r: i.as_dict() for r, i in m.info.items()},
            "limits": {"max_files": MAX_FILES, "max_upload_mb": self.settings.max_upload_mb,
                       "max_image_mpx": self.settings.max_image_mpx,
                       "max_request_mpx": self.settings.max_request_mpx},
        }

    # ------------------------------------------------------------------ API --

    def compare(self, uploads: Iterable[Upload] | None, thumbnails: bool = False) -> dict[str, Any]:
        """Every model's prediction for every upload (a bad file gets an `error`, never raises).
        Past MAX_FILES the rest is left out with one `notice`."""
        uploads = list(uploads or [])
        notice = None
        if len(uploads) > MAX_FILES:
            notice = (f"{len(uploads)} photos sent; at most {MAX_FILES} are compared at once, so "
                      f"the last {len(uploads) - MAX_FILES} were left out: send them separately.")
            uploads = uploads[:MAX_FILES]
        planned = self._plan(uploads)
        pixels = sum(h.pixels for _, h in planned if isinstance(h, ImageHeader))
        lane = self.light if pixels <= LIGHT_PIXELS else self.heavy
        job = self._run if lane is self.light else self._run_heavy
        results = lane.submit(job, planned, thumbnails).result() if planned else []
        return {**self.describe(), "notice": notice, "results": results}

    def compare_paths(self, paths: Sequence[str | Path] | None, thumbnails: bool = False,
                      labels: dict[str, str] | None = None) -> dict[str, Any]:
        """`compare` for files on disk (`labels`: true class by path, for example photos)."""
        labels = labels or {}
        return self.compare([Upload.from_path(p, labels.get(str(p))) for p in paths or []],
                            thumbnails)

    # ------------------------------------------------------------- stages --

    def _plan(self, uploads: list[Upload]) -> list[tuple[Upload, ImageHeader | dict[str, Any]]]:
        """Header of each upload (no decoding) or its error; the request budget in order."""
        out: list[tuple[Upload, ImageHeader | dict[str, Any]]] = []
        used = 0
        for u in uploads:
            if u.size == 0:
                out.append((u, _failed(u, "the file is empty (0 bytes)", "empty")))
                continue
            if u.size > self.max_upload_bytes:
                out.append((u, _failed(u, f"{_size(u.size)} is over the "
                                          f"{self.settings.max_upload_mb:g} MB limit per file",
                                       "too_large")))
                continue
            try:
                header = read_header(_rewound(u.source), u.name, self.max_image_pixels)
            except ImageError as e:
                out.append((u, _failed(u, e.reason, e.code)))
                continue
            if used + header.pixels > self.max_request_pixels:
                out.append((u, _failed(
                    u, f"{header.width}x{header.height} px would take this request over its "
                       f"{self.settings.max_request_mpx:g} Mpx budget; send it separately",
                    "over_request_budget")))
                continue
            used += header.pixels
            out.append((u, header))
        return out

    def _run(self, planned: list[tuple[Upload, ImageHeader | dict[str, Any]]],
             thumbnails: bool) -> list[dict[str, Any]]:
        """Decode the accepted uploads, then one batch per model for the whole request."""
        results: list[dict[str, Any]] = []
        images: dict[int, Image.Image] = {}
        for i, (u, header) in enumerate(planned):
            if not isinstance(header, ImageHeader):
                results.append(header)
                continue
            notes: list[str] = []
            try:
                im = load_image(_rewound(u.source), u.name, notes, max_pixels=self.max_image_pixels,
                                draft_size=self.input_size)
            except ImageError as e:
                results.append(_failed(u, e.reason, e.code))
                continue
            if self.target_side and min(header.width, header.height) > UNLIKE_FACTOR * self.target_side:
                notes.append(f"{header.width}x{header.height} px, far larger than the photos the "
                             f"adapted model was adapted to (about {self.target_side} px): its "
                             "answer may be less reliable on photos unlike those.")
            images[i] = im
            results.append({"file": u.name, "label": u.label, "error": None, "error_code": None,
                            "notes": notes, "width": header.width, "height": header.height,
                            **({"thumbnail": thumbnail_data_uri(im)} if thumbnails else {})})
        if images:
            self._predict(images, results, planned)
        return results

    def _run_heavy(self, planned: list[tuple[Upload, ImageHeader | dict[str, Any]]],
                   thumbnails: bool) -> list[dict[str, Any]]:
        try:
            return self._run(planned, thumbnails)
        finally:
            release_memory()

    def _predict(self, images: dict[int, Image.Image], results: list[dict[str, Any]],
                 planned: list[tuple[Upload, Any]]) -> None:
        idx = list(images)
        batches: dict[int, np.ndarray] = {}  # one preprocessing per input size
        for p in self.predictors.values():
            if p.input_size not in batches:
                batches[p.input_size] = np.stack([preprocess(images[i], p.input_size) for i in idx])

        def run(p: Any) -> list[Any]:
            # One photo per run: onnxruntime's memory arena grows to the largest batch it has
            # seen and never shrinks; on CPU a batch is barely faster than its photos one by one.
            batch = batches[p.input_size]
            return [p.predict_batch(batch[j:j + 1], [""])[0] for j in range(len(idx))]

        running = {role: self.pool.submit(run, p) for role, p in self.predictors.items()}
        for role, future in running.items():
            for i, pred in zip(idx, future.result()):
                d = {k: v for k, v in pred.as_dict().items() if k != "file"}
                if planned[i][0].label is not None:
                    d["correct"] = pred.top_class == planned[i][0].label
                results[i][role] = d
        for i in idx:
            r = results[i]
            tops = {r[role]["top_class"] for role in ROLES}
            r["disagree"] = len(tops) > 1
            r["unsure"] = all(r[role]["confidence"] < self.unsure_threshold for role in ROLES)


def _libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


_LIBC = _libc()


def release_memory() -> None:
    """Hand freed heap back to the system after a large decode. glibc keeps freed memory
    for reuse, so without this the server's RSS ratchets up to its largest past requests."""
    if _LIBC is not None and hasattr(_LIBC, "malloc_trim"):
        _LIBC.malloc_trim(0)


def _failed(u: Upload, message: str, code: str) -> dict[str, Any]:
    return {"file": u.name, "label": u.label, "error": message, "error_code": code, "notes": [],
            "width": None, "height": None, **{r: None for r in ROLES},
            "disagree": False, "unsure": False}


def _rewound(source: str | Path | IO[bytes]) -> str | Path | IO[bytes]:
    if hasattr(source, "seek"):
        source.seek(0)
    return source


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 // 10 else f"{n / 1024:.0f} kB"


def thumbnail_data_uri(im: Image.Image, side: int = THUMB_SIDE) -> str:
    """A small PNG of the photo as a data: URI (what the card shows; EXIF already applied)."""
    im = im.copy()
    im.thumbnail((side, side), Image.BILINEAR)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
