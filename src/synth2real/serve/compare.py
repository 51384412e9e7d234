"""Baseline vs adapted on the same photos: the logic (and HTML) behind the Gradio demo.

Kept free of Gradio so it is unit-tested directly and reused by `bench_serving`;
built on the deploy-side `predict` module only (onnxruntime, numpy, Pillow), so
the demo sees exactly what a deployer's code sees.

`Comparer.compare(files)` returns a JSON-ready dict:

    {"classes": [...], "unsure_threshold": t,
     "models": {"baseline": {"variant", "test_accuracy", "onnx", "providers"}, "adapted": {...}},
     "results": [{"file", "error" (str | None), "notes": [...],
                  "baseline": {"top_class", "confidence", "probabilities", "logits"} | None,
                  "adapted": {...} | None,
                  "disagree": bool, "unsure": bool}]}
"""

from __future__ import annotations

import base64
import html
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
TITLES = {"baseline": "Baseline", "adapted": "Adapted"}
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
            f"**{_pct(b.test_accuracy)}**.\n"
            f"- **Adapted** (`{a.variant}`): the baseline labels unlabeled real photos; its "
            "confident labels join the training set and the last layer is retrained. "
            f"Accuracy on the same real test photos: **{_pct(a.test_accuracy)}**.\n\n"
            f"Where the two disagree, adaptation changed the answer. When both are below "
            f"{self.unsure_threshold:.0%} confidence the photo is probably none of {cls} "
            "(the models can only pick among these).\n\n"
            f"<small>seed {meta.get('seed', '?')} · commit {meta.get('git_commit', '?')[:12]} · "
            f"config {meta.get('config_hash', '?')} · onnxruntime "
            f"{', '.join(p.removesuffix('ExecutionProvider') for p in b.providers)}</small>"
        )


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 // 10 else f"{n / 1024:.0f} kB"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def thumbnail_data_uri(im: Image.Image, side: int = THUMB_SIDE) -> str:
    """A small PNG of the photo as a data: URI (what the card shows; EXIF already applied)."""
    im = im.copy()
    im.thumbnail((side, side), Image.BILINEAR)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


# ------------------------------------------------------------------- HTML --

CSS = """
.s2r-cards {display: flex; flex-direction: column; gap: 14px;}
.s2r-card {display: grid; grid-template-columns: 150px 1fr 1fr; gap: 18px; align-items: start;
  padding: 14px 16px; border-radius: 12px; border: 1px solid var(--border-color-primary);
  background: var(--background-fill-secondary);}
.s2r-card.s2r-disagree {border: 2px solid #f59e0b; box-shadow: 0 0 0 3px rgba(245,158,11,.15);}
.s2r-card.s2r-error {grid-template-columns: 1fr; border: 2px solid #ef4444;
  background: rgba(239,68,68,.06);}
.s2r-thumb img {width: 150px; height: 150px; object-fit: cover; border-radius: 8px;
  display: block; background: #ddd;}
.s2r-file {font-size: 12px; color: var(--body-text-color-subdued); margin-top: 6px;
  word-break: break-all;}
.s2r-model h4 {margin: 0 0 2px 0; font-size: 15px;}
.s2r-variant {font-size: 12px; color: var(--body-text-color-subdued); margin-bottom: 8px;}
.s2r-top {font-size: 22px; font-weight: 700; margin: 2px 0 8px 0;}
.s2r-top .s2r-conf {font-size: 14px; font-weight: 500; color: var(--body-text-color-subdued);}
.s2r-row {display: grid; grid-template-columns: 48px 1fr 52px; gap: 8px; align-items: center;
  font-size: 13px; margin: 3px 0;}
.s2r-bar {height: 10px; border-radius: 5px; background: var(--border-color-primary);
  overflow: hidden;}
.s2r-bar > div {height: 100%; border-radius: 5px; background: #94a3b8;}
.s2r-baseline .s2r-row.s2r-first .s2r-bar > div {background: #6366f1;}
.s2r-adapted .s2r-row.s2r-first .s2r-bar > div {background: #10b981;}
.s2r-verdict {grid-column: 1 / -1; font-size: 14px; padding: 8px 12px; border-radius: 8px;
  background: rgba(16,185,129,.10);}
.s2r-disagree .s2r-verdict {background: rgba(245,158,11,.16); font-weight: 600;}
.s2r-unsure {grid-column: 1 / -1; font-size: 14px; padding: 8px 12px; border-radius: 8px;
  border-left: 4px solid #6366f1;
  background: rgba(99,102,241,.10);}
.s2r-note {grid-column: 1 / -1; font-size: 12px; color: var(--body-text-color-subdued);}
.s2r-errmsg {font-size: 14px;}
.s2r-empty {color: var(--body-text-color-subdued); padding: 24px; text-align: center;}
@media (max-width: 720px) {.s2r-card {grid-template-columns: 1fr;}}
"""


def render_html(result: dict[str, Any]) -> str:
    """The result cards; every user-supplied string (file names, messages) is escaped."""
    rows = result.get("results") or []
    if not rows:
        return '<div class="s2r-empty">Upload photos (or click an example) to compare the models.</div>'
    cls = "/".join(result["classes"])
    cards = [_card(r, result, cls) for r in rows]
    return '<div class="s2r-cards">' + "".join(cards) + "</div>"


def _card(r: dict[str, Any], result: dict[str, Any], cls: str) -> str:
    e = html.escape
    if r["error"]:
        return (f'<div class="s2r-card s2r-error" data-file="{e(r["file"])}">'
                f'<div class="s2r-errmsg">⚠️ <b>Could not classify {e(r["file"])}</b><br>'
                f'{e(r["error"])}</div></div>')
    b, a = r["baseline"]["top_class"], r["adapted"]["top_class"]
    if r["disagree"]:
        verdict = (f"⚡ The models disagree: baseline says <b>{e(b)}</b>, "
                   f"adapted says <b>{e(a)}</b>.")
    else:
        verdict = f"✓ Both models say <b>{e(a)}</b>."
    parts = [
        (f'<div class="s2r-card{" s2r-disagree" if r["disagree"] else ""}" '
         f'data-file="{e(r["file"])}">'),
        (f'<div class="s2r-thumb"><img src="{r["thumbnail"]}" alt="{e(r["file"])}">'
         f'<div class="s2r-file">{e(r["file"])}</div></div>'),
        *(_model_column(role, r[role], result["models"][role]) for role in ROLES),
        f'<div class="s2r-verdict">{verdict}</div>',
    ]
    if r["unsure"]:
        parts.append(
            f'<div class="s2r-unsure"><b>Probably none of {e(cls)}</b>: both models are below '
            f'{result["unsure_threshold"]:.0%} confidence.</div>')
    parts += [f'<div class="s2r-note">{e(n)}</div>' for n in r["notes"]]
    parts.append("</div>")
    return "".join(parts)


def _model_column(role: str, pred: dict[str, Any], info: dict[str, Any]) -> str:
    e = html.escape
    ranked = sorted(pred["probabilities"].items(), key=lambda kv: -kv[1])  # top-k, all C here
    bars = "".join(
        f'<div class="s2r-row{" s2r-first" if i == 0 else ""}"><span>{e(c)}</span>'
        f'<div class="s2r-bar"><div style="width:{p * 100:.1f}%"></div></div>'
        f'<span>{p:.1%}</span></div>'
        for i, (c, p) in enumerate(ranked)
    )
    acc = _pct(info["test_accuracy"])
    return (f'<div class="s2r-model s2r-{role}" data-role="{role}">'
            f'<h4>{TITLES[role]}</h4>'
            f'<div class="s2r-variant">{e(info["variant"])} · real-test accuracy {acc}</div>'
            f'<div class="s2r-top" data-top="{e(pred["top_class"])}">{e(pred["top_class"])} '
            f'<span class="s2r-conf">{pred["confidence"]:.1%}</span></div>{bars}</div>')
