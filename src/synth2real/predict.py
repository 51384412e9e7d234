"""Deploy-side predictor: image files -> class probabilities with an exported ONNX model.

This module is deliberately standalone: it imports only the standard library,
numpy, Pillow and (for prediction) onnxruntime, so a deployer can copy this one
file next to `adapted.onnx` and run it without torch or the rest of the repo.

It is also *the* preprocessing of the project, written once: training-time
feature extraction, the ONNX parity check, the demo and its API all call
`load_image` and `preprocess` from here.

    python -m synth2real.predict models/adapted.onnx photo1.jpg photo2.png

prints a JSON list with one object per file (top class, its confidence and
the per-class probabilities; or an `error` message for a file that is not a
usable image).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

log = logging.getLogger(__name__)

# Default per-image budget of decoded pixels (width x height, read from the header before
# any decoding); a server passes its own. Larger images are refused, never decoded.
MAX_PIXELS = 40_000_000
# Smaller images carry no usable content for a 224 px classifier.
MIN_SIDE = 8
SUPPORTED = "JPEG, PNG, GIF, WebP, TIFF or BMP"

RESIZE_POLICY = ("resize shorter side to input_size (bilinear, PIL), then centre-crop input_size; "
                 "photos over 4x input_size are first decoded reduced (JPEG DCT scaling, else an "
                 "integer box reduction) to a shorter side of at least 2x input_size")


class ImageError(ValueError):
    """The file is not a usable image. `str(e)` is "<name>: <reason>"; `reason` alone is for
    displays that already show the name; `code` is a stable word for programs."""

    def __init__(self, name: str, reason: str, code: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name, self.reason, self.code = name, reason, code


@dataclass(frozen=True)
class ImageHeader:
    """What an image file's header says, read without decoding its pixels."""

    width: int
    height: int
    format: str
    frames: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def _mpx(pixels: float) -> str:
    return f"{pixels / 1e6:.1f} Mpx" if pixels >= 1e5 else f"{pixels:,.0f} px"


def _checked_header(im: Image.Image, label: str, max_pixels: int) -> ImageHeader:
    w, h = im.size
    if w * h > max_pixels:
        raise ImageError(label, f"{w}x{h} px ({_mpx(w * h)}) is over the {_mpx(max_pixels)} "
                                "limit per photo; not decoded", "too_many_pixels")
    if min(w, h) < MIN_SIDE:
        raise ImageError(label, f"{w}x{h} px is too small; at least {MIN_SIDE} px per side needed",
                         "too_small")
    return ImageHeader(w, h, im.format or "?", getattr(im, "n_frames", 1))


def _opened(source: str | Path | Any, label: str):
    """`Image.open` (header only, pixels stay on disk) with its failures in plain words."""
    try:
        if isinstance(source, (str, Path)) and Path(source).is_file() and Path(source).stat().st_size == 0:
            raise ImageError(label, "the file is empty (0 bytes)", "empty")
        return Image.open(source)
    except FileNotFoundError:
        raise ImageError(label, "file not found", "not_found") from None
    except Image.DecompressionBombError as e:
        # Pillow's own guard (its limit is the server's budget) fires before ours for the
        # largest headers; its count is taken over, its wording is not.
        m = re.search(r"\((\d+) pixels\)", str(e))
        size = f"{_mpx(int(m.group(1)))} is" if m else "the image is"
        raise ImageError(label, f"{size} far over the pixel limit per photo; not decoded",
                         "too_many_pixels") from None
    except UnidentifiedImageError:
        if not isinstance(source, (str, Path)) and _is_empty(source):
            raise ImageError(label, "the file is empty (0 bytes)", "empty") from None
        raise ImageError(label, f"not a supported image (expected {SUPPORTED})",
                         "unsupported") from None
    except OSError:
        raise ImageError(label, "the file could not be read", "unreadable") from None


def _is_empty(fileobj: Any) -> bool:
    try:
        fileobj.seek(0, 2)
        return fileobj.tell() == 0
    except (AttributeError, OSError):
        return False


def read_header(source: str | Path | Any, name: str | None = None,
                max_pixels: int = MAX_PIXELS) -> ImageHeader:
    """Size, format and frame count from the header alone; raises `ImageError` for a file that
    is no supported image or whose pixel count is over `max_pixels`."""
    label = name or str(source)
    with _opened(source, label) as im:
        return _checked_header(im, label, max_pixels)


def load_image(source: str | Path | Any, name: str | None = None,
               notes: list[str] | None = None, *, max_pixels: int = MAX_PIXELS,
               draft_size: int | None = None) -> Image.Image:
    """Open an image file (or file object) as 8-bit RGB, honouring EXIF orientation.

    Accepts grayscale, RGBA/LA (composited on white), palette, CMYK and 16-bit
    images; for animated images the first frame is used (and said so in
    `notes`, when given). The pixel count is checked against `max_pixels`
    from the header, before decoding. With `draft_size` (the model's input
    side), a photo over 4x that size is decoded reduced (see RESIZE_POLICY):
    the cost follows the model's input, not the photo. Raises `ImageError`
    with a readable message for anything that is not a usable image.
    """
    label = name or str(source)
    with _opened(source, label) as im:
        header = _checked_header(im, label, max_pixels)
        if header.frames > 1 and notes is not None:
            notes.append(f"animated image with {header.frames} frames; the first frame is classified")
        try:
            im.seek(0)  # first frame of animated GIF/PNG/WebP
            if draft_size and header.format == "JPEG":
                im.draft(None, (2 * draft_size, 2 * draft_size))
            im.load()
            out = _reduce(im, draft_size) if draft_size else im
            out = ImageOps.exif_transpose(out)
            return _to_rgb(out)
        except ImageError:
            raise
        except (OSError, SyntaxError, ValueError, EOFError):
            # Truncated or corrupt data surfaces from the decoder as OSError (or worse).
            raise ImageError(label, "the image data is corrupt or truncated", "corrupt") from None


def _reduce(im: Image.Image, size: int) -> Image.Image:
    """Integer box reduction keeping the shorter side >= 2*size (no-op for smaller images)."""
    factor = min(im.size) // (2 * size)
    if factor < 2:
        return im
    if im.mode not in ("L", "LA", "RGB", "RGBA", "CMYK", "I", "F", "RGBX", "YCbCr"):
        im = _to_rgb(im) if im.mode != "P" else im.convert("RGBA")  # modes reduce() lacks
    return im.reduce(factor)


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit (or 32-bit int) grayscale: scale to 8 bit instead of clipping at 255.
        # I;16 is 16-bit by definition (even a dark one); mode I says nothing of its
        # range, so values above 255 are taken as 16-bit. Integer maths: a 24 Mpx photo
        # would need 200 MB as float64.
        a = np.asarray(im)
        peak = 65535 if im.mode.startswith("I;16") or a.max() > 255 else 255
        a = (np.clip(a, 0, peak).astype(np.uint32) * 255 + peak // 2) // peak
        im = Image.fromarray(a.astype(np.uint8), "L")
    elif im.mode == "F":
        a = np.asarray(im, dtype=np.float32)
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

    def __init__(self, model_path: str | Path, providers: Sequence[str] | None = None,
                 threads: int | None = None):
        """`providers`: onnxruntime execution providers in order of preference; None takes
        CUDA when it works, else CPU (and logs which). A provider asked for by name that
        onnxruntime could not load is an error, never a silent fallback to CPU.
        `threads`: intra-op threads (None: onnxruntime's default, every core)."""
        import onnxruntime as ort

        self.path = Path(model_path)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: ONNX model not found (run `make reproduce`)")
        available = ort.get_available_providers()
        requested = list(providers) if providers is not None else [
            p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(self.path), options, providers=requested)
        self.providers: list[str] = self.session.get_providers()
        log.info("%s: onnxruntime providers %s", self.path.name, self.providers)
        lost = [p for p in requested if p != "CPUExecutionProvider" and p not in self.providers]
        if lost and providers is not None:
            raise RuntimeError(
                f"{self.path}: {', '.join(lost)} requested but onnxruntime runs on "
                f"{', '.join(self.providers)} (it could not load the GPU provider: check the "
                "driver, CUDA libraries and onnxruntime-gpu; or ask for CPUExecutionProvider)")
        if lost:
            log.warning("%s: %s available but not usable here; running on %s", self.path.name,
                        ", ".join(lost), ", ".join(self.providers))
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
        """Predictions for image files, decoded as the demo and its API decode them."""
        images = [load_image(p, draft_size=self.input_size) for p in paths]
        return self.predict_images(images, [str(p) for p in paths])


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
    except (FileNotFoundError, ValueError, RuntimeError) as e:
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
