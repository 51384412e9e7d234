"""Deploy-side predictor: image files -> class probabilities with an exported ONNX model.

This module is deliberately standalone: it imports only the standard library,
numpy, Pillow and (for prediction) onnxruntime, so a deployer can copy this one
file next to `adapted.onnx` and run it without torch or the rest of the repo.

It is also *the* preprocessing of the project, written once: training-time
feature extraction, the ONNX parity check and the demo all call `load_image`
and `preprocess` from here.

    python -m synth2real.predict models/adapted.onnx photo1.jpg photo2.png

prints a JSON list with one object per file (top class, its confidence and
the per-class probabilities; or an `error` message for a file that is not a
usable image).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Images larger than this are refused rather than decoded (decompression bombs).
MAX_PIXELS = 40_000_000
# Smaller images carry no usable content for a 224 px classifier.
MIN_SIDE = 8

RESIZE_POLICY = "resize shorter side to input_size (bilinear, PIL), then centre-crop input_size"


class ImageError(ValueError):
    """The file is not a usable image; the message names the file and the reason."""


def load_image(source: str | Path | Any, name: str | None = None,
               notes: list[str] | None = None) -> Image.Image:
    """Open an image file (or file object) as 8-bit RGB, honouring EXIF orientation.

    Accepts grayscale, RGBA/LA (composited on white), palette, CMYK and 16-bit
    images; for animated images the first frame is used (and said so in
    `notes`, when given). Raises `ImageError` with a readable message for
    anything that is not a decodable image.
    """
    label = name or str(source)
    try:
        with Image.open(source) as im:
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise ImageError(
                    f"{label}: image is {w}x{h} px, larger than the {MAX_PIXELS:,} px limit"
                )
            if min(w, h) < MIN_SIDE:
                raise ImageError(f"{label}: image is {w}x{h} px; at least {MIN_SIDE} px per side needed")
            frames = getattr(im, "n_frames", 1)
            if frames > 1 and notes is not None:
                notes.append(f"{label}: animated image with {frames} frames; the first frame is classified")
            im.seek(0)  # first frame of animated GIF/PNG/WebP
            im = ImageOps.exif_transpose(im)
            return _to_rgb(im)
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{label}: file not found") from None
    except Image.DecompressionBombError as e:
        raise ImageError(f"{label}: refused as a possible decompression bomb ({e})") from None
    except UnidentifiedImageError:
        raise ImageError(f"{label}: not an image file (or a format Pillow cannot read)") from None
    except (OSError, SyntaxError, ValueError) as e:
        # Truncated/corrupt data surfaces as OSError from the decoder.
        raise ImageError(f"{label}: image data is corrupt or truncated ({e})") from None


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit (or 32-bit int) grayscale: scale to 8 bit instead of clipping at 255.
        # I;16 is 16-bit by definition (even a dark one); mode I says nothing of its
        # range, so values above 255 are taken as 16-bit.
        a = np.asarray(im, dtype=np.float64)
        peak = 65535.0 if im.mode.startswith("I;16") or a.max() > 255 else 255.0
        im = Image.fromarray(np.clip(a / peak * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    elif im.mode == "F":
        a = np.asarray(im, dtype=np.float64)
        im = Image.fromarray(np.clip(a * (255.0 if a.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8), "L")
    if im.mode == "P":
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, im.convert("RGBA")).convert("RGB")
    return im.convert("RGB")  # L, CMYK, YCbCr, RGB ...


def preprocess(im: Image.Image, size: int) -> np.ndarray:
    """RGB PIL image -> float32 array [3, size, size] in [0, 1] (normalisation is in the model).

    Resize the shorter side to `size` (bilinear), then centre-crop `size`x`size`.
    """
    w, h = im.size
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    im = im.resize((nw, nh), Image.BILINEAR)
    left, top = (nw - size) // 2, (nh - size) // 2
    im = im.crop((left, top, left + size, top + size))
    return np.asarray(im, dtype=np.float32).transpose(2, 0, 1) / 255.0


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class Prediction:
    file: str
    top_class: str
    confidence: float
    probabilities: dict[str, float]
    logits: list[float]

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "top_class": self.top_class,
            "confidence": self.confidence,
            "probabilities": self.probabilities,
            "logits": self.logits,
        }


class Predictor:
    """An exported synth2real ONNX classifier with the preprocessing its metadata names."""

    def __init__(self, model_path: str | Path, providers: Sequence[str] | None = None):
        import onnxruntime as ort

        self.path = Path(model_path)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: ONNX model not found (run `make reproduce`)")
        available = ort.get_available_providers()
        if providers is None:
            providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
        self.session = ort.InferenceSession(str(self.path), providers=list(providers))
        meta = self.session.get_modelmeta().custom_metadata_map
        try:
            self.class_names: list[str] = json.loads(meta["class_names"])
            self.input_size = int(meta["input_size"])
        except KeyError as e:
            raise ValueError(f"{self.path}: metadata key {e} missing; not a synth2real export") from None
        except ValueError as e:
            raise ValueError(f"{self.path}: unreadable class_names/input_size metadata ({e})") from None
        self.metadata: dict[str, str] = dict(meta)
        self.input_name = self.session.get_inputs()[0].name
        self.providers: list[str] = self.session.get_providers()

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """float32 [N, 3, S, S] in [0, 1] -> logits [N, C]."""
        return self.session.run(None, {self.input_name: batch.astype(np.float32, copy=False)})[0]

    def predict_batch(self, batch: np.ndarray, names: Sequence[str]) -> list[Prediction]:
        """Predictions for a preprocessed batch [N, 3, S, S] (see `preprocess`)."""
        if len(batch) == 0:
            return []
        logits = self.logits(batch)
        probs = softmax(logits.astype(np.float64))
        out = []
        for name, z, p in zip(names, logits, probs):
            k = int(p.argmax())
            out.append(
                Prediction(
                    file=name,
                    top_class=self.class_names[k],
                    confidence=float(p[k]),
                    probabilities={c: float(v) for c, v in zip(self.class_names, p)},
                    logits=[float(v) for v in z],
                )
            )
        return out

    def predict_images(self, images: Sequence[Image.Image], names: Sequence[str]) -> list[Prediction]:
        if not images:
            return []
        return self.predict_batch(np.stack([preprocess(im, self.input_size) for im in images]), names)

    def predict_files(self, paths: Sequence[str | Path]) -> list[Prediction]:
        return self.predict_images([load_image(p) for p in paths], [str(p) for p in paths])


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: print a JSON list with one object per image file; exit 1 if any file failed."""
    import argparse

    ap = argparse.ArgumentParser(
        description="Classify image files with an exported synth2real ONNX model. Prints a JSON "
        "list: per file its top class, confidence and per-class probabilities (or an error).",
    )
    ap.add_argument("model", help="path to baseline.onnx or adapted.onnx")
    ap.add_argument("images", nargs="+", help="image files (JPEG, PNG, GIF, TIFF, WebP ...)")
    args = ap.parse_args(argv)
    try:
        predictor = Predictor(args.model)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    results: list[dict[str, Any]] = []
    for path in args.images:
        # One file at a time, so a bad file is reported without losing the others.
        try:
            (pred,) = predictor.predict_files([path])
            results.append(pred.as_dict())
        except ImageError as e:
            results.append({"file": path, "error": str(e)})
    print(json.dumps(results, indent=2))
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
