"""Baseline vs adapted on the same photos: the comparison behind the Gradio demo and its API.

Kept free of Gradio so it is unit-tested directly and reused by `bench_serving`;
built on the deploy-side `predict` module only (onnxruntime, numpy, Pillow), so
the demo sees exactly what a deployer's code sees. `synth2real.serve.html`
draws the result cards.

`Comparer.compare(files)` returns a JSON-ready dict:

    {"classes": [...], "unsure_threshold": t,
     "models": {"baseline": {"role", "variant", "test_accuracy", "onnx", "providers"},
                "adapted": {...}},
     "results": [{"file", "error" (str | None), "notes": [...],
                  "baseline": {"top_class", "confidence", "probabilities", "logits"} | None,
                  "adapted": {...} | None,
                  "disagree": bool, "unsure": bool,
                  "thumbnail": "data:image/png;base64,..." | None}]}
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from synth2real.predict import ImageError, Predictor, load_image, preprocess

ROLES = ("baseline", "adapted")
# One request classifies at most this many photos: bounds the time one user can hold a worker.
MAX_FILES = 16
# Side of the thumbnail embedded in the result card (the original is never sent back).
THUMB_SIDE = 192


@dataclass(frozen=True)
class ModelInfo:
    role: str
    variant: str
    test_accuracy: float | None
    onnx: str
    providers: list[str]

    @staticmethod
    def of(role: str, p: Predictor) -> ModelInfo:
        acc = p.metadata.get("test_accuracy")
        return ModelInfo(role, p.metadata.get("variant", "?"), float(acc) if acc else None,
                         str(p.path), list(p.providers))


class Comparer:
    """Both exported models of a run, loaded once; thread-safe (onnxruntime sessions are)."""

    def __init__(self, models_dir: str | Path, unsure_threshold: float, max_upload_mb: float,
                 providers: Sequence[str] | None = None) -> None:
        models_dir = Path(models_dir)
        missing = [f"{models_dir}/{r}.onnx" for r in ROLES if not (models_dir / f"{r}.onnx").is_file()]
        if missing:
            raise FileNotFoundError(
                f"{', '.join(missing)} not found: export the models first "
                "(`make reproduce`, which ends with the export_onnx rule) or pass --models <dir>"
            )
        self.models = {r: Predictor(models_dir / f"{r}.onnx", providers) for r in ROLES}
        names = {r: p.class_names for r, p in self.models.items()}
        if names["baseline"] != names["adapted"]:
            raise ValueError(f"{models_dir}: baseline and adapted class_names differ: {names}")
        self.classes: list[str] = names["baseline"]
        self.unsure_threshold = unsure_threshold
        self.max_upload_mb = max_upload_mb
        self.max_upload_bytes = int(max_upload_mb * 1024 * 1024)
        self.info = {r: ModelInfo.of(r, p) for r, p in self.models.items()}
        # onnxruntime plans its kernels on the first run (seconds): pay that at startup,
        # not on the first visitor's request.
        for p in self.models.values():
            p.logits(np.zeros((1, 3, p.input_size, p.input_size), np.float32))

    # ------------------------------------------------------------------ API --

    def compare(self, files: Sequence[str | Path] | None) -> dict[str, Any]:
        """Both models' predictions for every file (a bad file gets an `error`, never raises)."""
        files = list(files or [])
        results = [self.compare_one(f) for f in files[:MAX_FILES]]
        results += [self._failed(Path(f).name, f"not classified: at most {MAX_FILES} photos per "
                                                "request; upload the rest separately")
                    for f in files[MAX_FILES:]]
        return {
            "classes": self.classes,
            "unsure_threshold": self.unsure_threshold,
            "models": {r: vars(i) for r, i in self.info.items()},
            "results": results,
        }

    def compare_one(self, path: str | Path) -> dict[str, Any]:
        name = Path(path).name
        try:
            size = os.path.getsize(path)
        except OSError:
            return self._failed(name, f"{name}: file not found or unreadable")
        if size == 0:
            return self._failed(name, f"{name}: the file is empty (0 bytes)")
        if size > self.max_upload_bytes:
            return self._failed(name, f"{name}: {_size(size)} is over the "
                                      f"{self.max_upload_mb:g} MB upload limit")
        notes: list[str] = []
        try:
            im = load_image(path, name, notes)
        except ImageError as e:
            return self._failed(name, str(e))
        preds: dict[str, Any] = {}
        batches: dict[int, np.ndarray] = {}  # one preprocessing per input size
        for role, p in self.models.items():
            if p.input_size not in batches:
                batches[p.input_size] = preprocess(im, p.input_size)[None]
            (pred,) = p.predict_batch(batches[p.input_size], [name])
            preds[role] = {k: v for k, v in pred.as_dict().items() if k != "file"}
        return {
            "file": name, "error": None, "notes": notes, **preds,
            "disagree": preds["baseline"]["top_class"] != preds["adapted"]["top_class"],
            "unsure": all(preds[r]["confidence"] < self.unsure_threshold for r in ROLES),
            "thumbnail": thumbnail_data_uri(im),
        }

    @staticmethod
    def _failed(name: str, message: str) -> dict[str, Any]:
        return {"file": name, "error": message, "notes": [], "baseline": None, "adapted": None,
                "disagree": False, "unsure": False, "thumbnail": None}

    # --------------------------------------------------------------- texts --

    def explanation(self) -> str:
        """Markdown: what the two models are, with their test accuracies from the ONNX metadata."""
        b, a = self.info["baseline"], self.info["adapted"]
        cls = "/".join(self.classes)
        meta = self.models["adapted"].metadata
        return (
            f"Both models classify a photo as **{cls}** with the same frozen ImageNet "
            "MobileNetV2 backbone; only the final layer differs.\n\n"
            f"- **Baseline** (`{b.variant}`): trained on source-domain images only "
            f"(synthetic in the study). Accuracy on this run's real test photos: "
            f"**{pct_or_na(b.test_accuracy)}**.\n"
            f"- **Adapted** (`{a.variant}`): the baseline labels unlabeled real photos; its "
            "confident labels join the training set and the last layer is retrained. "
            f"Accuracy on the same real test photos: **{pct_or_na(a.test_accuracy)}**.\n\n"
            f"Where the two disagree, adaptation changed the answer. When both are below "
            f"{self.unsure_threshold:.0%} confidence the photo is probably none of {cls} "
            "(the models can only pick among these).\n\n"
            f"<small>seed {meta.get('seed', '?')} · commit {meta.get('git_commit', '?')[:12]} · "
            f"config {meta.get('config_hash', '?')} · onnxruntime "
            f"{', '.join(p.removesuffix('ExecutionProvider') for p in b.providers)}</small>"
        )


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 // 10 else f"{n / 1024:.0f} kB"


def pct_or_na(x: float | None) -> str:
    """A fraction as a percentage with one decimal, "n/a" without a value (e.g. no accuracy)."""
    return "n/a" if x is None else f"{x:.1%}"


def thumbnail_data_uri(im: Image.Image, side: int = THUMB_SIDE) -> str:
    """A small PNG of the photo as a data: URI (what the card shows; EXIF already applied)."""
    im = im.copy()
    im.thumbnail((side, side), Image.BILINEAR)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
