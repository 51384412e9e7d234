"""The deploy-side predictor: image modes, EXIF, bad files, preprocessing, ONNX metadata, CLI."""

from __future__ import annotations

import io
import json
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from synth2real import predict
from synth2real.predict import ImageError, Predictor, load_image, preprocess

# ----------------------------------------------------------------- images --


def _save(im: Image.Image, path: Path, **kw) -> Path:
    im.save(path, **kw)
    return path


@pytest.mark.parametrize(
    "mode,color,expected",
    [
        ("L", 100, (100, 100, 100)),
        ("1", 1, (255, 255, 255)),
        ("CMYK", (0, 255, 255, 0), (255, 0, 0)),  # pure red in CMYK
        ("RGB", (10, 20, 30), (10, 20, 30)),
    ],
)
def test_modes_become_rgb(tmp_path, mode, color, expected):
    ext = "tiff" if mode == "CMYK" else "png"  # lossless, so pixel values are exact
    path = _save(Image.new(mode, (16, 12), color), tmp_path / f"x.{ext}")
    im = load_image(path)
    assert im.mode == "RGB" and im.size == (16, 12)
    assert im.getpixel((3, 3)) == expected


def test_rgba_and_la_are_composited_on_white(tmp_path):
    rgba = Image.new("RGBA", (10, 10), (255, 0, 0, 0))  # fully transparent red
    rgba.putpixel((0, 0), (255, 0, 0, 255))
    im = load_image(_save(rgba, tmp_path / "a.png"))
    assert im.getpixel((5, 5)) == (255, 255, 255) and im.getpixel((0, 0)) == (255, 0, 0)
    la = Image.new("LA", (10, 10), (0, 128))  # black, half transparent
    assert load_image(_save(la, tmp_path / "la.png")).getpixel((1, 1)) == (127, 127, 127)


def test_palette_with_transparency(tmp_path):
    p = Image.new("P", (10, 10), 1)
    p.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)  # index 1 = blue
    p.putpixel((0, 0), 0)
    path = tmp_path / "p.png"
    p.save(path, transparency=0)  # index 0 transparent -> white
    im = load_image(path)
    assert im.getpixel((5, 5)) == (0, 0, 255) and im.getpixel((0, 0)) == (255, 255, 255)


def test_16_bit_grayscale_is_scaled_not_clipped(tmp_path):
    a = np.zeros((10, 20), np.uint16)
    a[:, 10:] = 65535
    a[0, 0] = 32768
    im = load_image(_save(Image.fromarray(a), tmp_path / "g16.png"))
    assert Image.open(tmp_path / "g16.png").mode == "I;16"
    assert im.getpixel((15, 5)) == (255, 255, 255) and im.getpixel((5, 5)) == (0, 0, 0)
    assert im.getpixel((0, 0)) == (128, 128, 128)
    # A dark 16-bit image (all values < 256) is still 16-bit: nearly black, not bright.
    dark = np.full((10, 10), 200, np.uint16)
    assert load_image(_save(Image.fromarray(dark), tmp_path / "dark.png")).getpixel((1, 1)) == (1, 1, 1)


def test_float_image(tmp_path):
    a = np.full((10, 10), 0.5, np.float32)
    assert load_image(_save(Image.fromarray(a, "F"), tmp_path / "f.tiff")).getpixel((2, 2))[0] == 127


@pytest.mark.parametrize("orientation,top_color", [(1, None), (6, "red"), (8, "blue"), (3, None)])
def test_exif_orientation_is_applied(tmp_path, orientation, top_color):
    # 40x20 photo: left half red, right half blue. Orientation 6 means "rotate 90° clockwise
    # to display", so the left (red) half ends on top; 8 is the opposite turn.
    a = np.zeros((20, 40, 3), np.uint8)
    a[:, :20] = (255, 0, 0)
    a[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = _save(Image.fromarray(a), tmp_path / "o.jpg", exif=exif, quality=95)
    im = load_image(path)
    if orientation in (6, 8):
        assert im.size == (20, 40)
        top = im.getpixel((10, 2))
        assert (top[0] > 200 and top[2] < 50) if top_color == "red" else (top[2] > 200 and top[0] < 50)
    else:
        assert im.size == (40, 20)
        left = im.getpixel((2, 10))
        assert (left[0] > 200) == (orientation == 1)  # 3 = rotated 180: blue on the left


def test_animated_gif_first_frame_with_note(tmp_path):
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    notes: list[str] = []
    im = load_image(path, "anim.gif", notes)
    r, g, b = im.getpixel((8, 8))
    assert r > 200 and g < 50 and b < 50
    assert notes == ["animated image with 3 frames; the first frame is classified"]


def _png_header_only(path: Path, w: int, h: int) -> Path:
    """A PNG whose header claims w x h (1-bit) with almost no data: a decompression-bomb shape."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))
    return path


def _truncated_jpeg(path: Path) -> Path:
    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, "JPEG")
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    return path


@pytest.mark.parametrize(
    "make,message,code",
    [
        (lambda d: (d / "text.jpg").write_text("hello, not a photo") and d / "text.jpg",
         "not a supported image (expected JPEG", "unsupported"),
        (lambda d: (d / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
         and d / "logo.svg", "not a supported image", "unsupported"),
        (lambda d: (d / "empty.jpg").write_bytes(b"") or d / "empty.jpg", "empty (0 bytes)", "empty"),
        (lambda d: _truncated_jpeg(d / "half.jpg"), "corrupt or truncated", "corrupt"),
        (lambda d: _png_header_only(d / "bomb.png", 30000, 30000),
         "900.0 Mpx is far over the pixel limit", "too_many_pixels"),
        (lambda d: _png_header_only(d / "big.png", 8000, 8000),
         "8000x8000 px (64.0 Mpx) is over the 40.0 Mpx limit per photo", "too_many_pixels"),
        (lambda d: _save(Image.new("RGB", (1, 1)), d / "one.png"), "1x1 px is too small", "too_small"),
        (lambda d: d / "missing.png", "file not found", "not_found"),
    ],
    ids=["text", "svg", "zero-bytes", "truncated", "bomb", "too-large", "1x1", "missing"],
)
def test_bad_files_give_readable_errors(tmp_path, make, message, code, monkeypatch):
    # A server sets Pillow's own bomb guard to its budget; its wording must not leak through.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", predict.MAX_PIXELS)
    path = make(tmp_path)
    with pytest.raises(ImageError, match=re.escape(message)) as info:
        load_image(path)
    assert str(info.value).startswith(f"{path}: ")  # names the file, once
    assert info.value.code == code and str(path) not in info.value.reason
    assert "bytes not processed" not in str(info.value) and "cannot identify" not in str(info.value)


def test_header_budget_is_checked_before_decoding(tmp_path):
    path = _save(Image.new("L", (300, 200), 7), tmp_path / "wide.png")
    assert predict.read_header(path).pixels == 60_000
    with pytest.raises(ImageError, match="300x200 px .* over the 50,000 px limit"):
        load_image(path, max_pixels=50_000)


def test_large_photos_are_decoded_reduced(tmp_path):
    """Over 4x the input side, JPEGs decode at a DCT scale and others by box reduction; the
    result keeps at least 2x the input side, and small photos are untouched."""
    a = np.zeros((1200, 1600, 3), np.uint8)
    a[:, :800] = (250, 10, 10)
    jpg = _save(Image.fromarray(a), tmp_path / "big.jpg", quality=90)
    png = _save(Image.fromarray(a), tmp_path / "big.png")
    g16 = _save(Image.fromarray(np.full((1200, 1600), 40000, np.uint16)), tmp_path / "g16.png")
    for path, side in ((jpg, 300), (png, 200), (g16, 200)):
        im = load_image(path, draft_size=100)
        assert im.mode == "RGB" and min(im.size) == side and im.size[0] > im.size[1]
    assert load_image(g16, draft_size=100).getpixel((5, 5)) == (156, 156, 156)
    assert load_image(jpg, draft_size=100).getpixel((10, 10))[0] > 230
    small = _save(Image.fromarray(a[:300, :400]), tmp_path / "small.png")
    assert load_image(small, draft_size=100).size == load_image(small).size == (400, 300)


def test_preprocess_resizes_shorter_side_and_centre_crops():
    a = np.zeros((64, 128, 3), np.uint8)
    a[:, 32:96] = 255  # the centre square is white, the sides black
    x = preprocess(Image.fromarray(a), 32)
    assert x.shape == (3, 32, 32) and x.dtype == np.float32
    # Only the centre square survives (a squash instead of a crop would keep black columns);
    # the outermost columns blend with the black border under bilinear antialiasing.
    assert x[:, :, 1:-1].min() >= 0.99 and x.min() > 0.5 and x.max() <= 1.0
    tall = preprocess(Image.new("RGB", (50, 100), (255, 0, 0)), 64)
    assert tall.shape == (3, 64, 64)
    np.testing.assert_allclose(tall[:, 10, 10], [1.0, 0.0, 0.0])


# -------------------------------------------------------------- predictor --

WEIGHTS = np.array([[4.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 4.0]], np.float32)


def toy_model(path: Path, metadata: dict[str, str] | None = None) -> Path:
    """An ONNX model with the export contract: mean colour [N,3] @ WEIGHTS -> logits [N,3]."""
    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["image"], ["pooled"]),
         helper.make_node("Flatten", ["pooled"], ["flat"]),
         helper.make_node("MatMul", ["flat", "W"], ["logits"])],
        "toy",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, 16, 16])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])],
        [numpy_helper.from_array(WEIGHTS, "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    meta = {"class_names": json.dumps(["red", "green", "blue"]), "input_size": "16"}
    for k, v in (metadata if metadata is not None else meta).items():
        model.metadata_props.add(key=k, value=v)
    onnx.save(model, path)
    return path


def test_predictor_reads_metadata_and_predicts(tmp_path):
    p = Predictor(toy_model(tmp_path / "m.onnx"))
    assert p.class_names == ["red", "green", "blue"] and p.input_size == 16
    files = [_save(Image.new("RGB", (40, 30), c), tmp_path / f"{i}.png")
             for i, c in enumerate([(255, 0, 0), (0, 0, 255), (0, 255, 0)])]
    preds = p.predict_files(files)
    assert [x.top_class for x in preds] == ["red", "blue", "green"]
    expected = np.exp([4.0, 0, 0]) / np.exp([4.0, 0, 0]).sum()
    assert preds[0].confidence == pytest.approx(expected[0], rel=1e-6)
    assert list(preds[0].probabilities) == ["red", "green", "blue"]
    assert preds[0].logits == pytest.approx([4.0, 0.0, 0.0], abs=1e-5)


def test_predictor_refuses_a_model_without_metadata(tmp_path):
    with pytest.raises(ValueError, match="m.onnx: metadata key 'class_names' missing"):
        Predictor(toy_model(tmp_path / "m.onnx", metadata={}))
    with pytest.raises(FileNotFoundError, match="nope.onnx: ONNX model not found"):
        Predictor(tmp_path / "nope.onnx")


def test_predictor_logs_providers_and_refuses_a_silent_cpu_fallback(tmp_path, caplog,
                                                                    monkeypatch):
    import onnxruntime as ort

    model = toy_model(tmp_path / "m.onnx")
    with caplog.at_level("INFO", logger="synth2real.predict"):
        p = Predictor(model, ["CPUExecutionProvider"], threads=1)
    assert p.providers == ["CPUExecutionProvider"] and "CPUExecutionProvider" in caplog.text

    class FellBack(ort.InferenceSession):  # what onnxruntime does when CUDA cannot load
        def get_providers(self):
            return ["CPUExecutionProvider"]

    monkeypatch.setattr(ort, "InferenceSession", FellBack)
    with pytest.raises(RuntimeError, match="CUDAExecutionProvider requested but onnxruntime runs "
                                           "on CPUExecutionProvider"):
        Predictor(model, ["CUDAExecutionProvider", "CPUExecutionProvider"])


def test_cli_prints_json_list_and_flags_bad_files(tmp_path, capsys):
    model = toy_model(tmp_path / "m.onnx")
    good = _save(Image.new("RGB", (20, 20), (0, 0, 250)), tmp_path / "blue.jpg")
    bad = tmp_path / "bad.jpg"
    bad.write_text("text")
    assert predict.main([str(model), str(good), str(bad)]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out[0]["file"] == str(good) and out[0]["top_class"] == "blue"
    assert set(out[0]["probabilities"]) == {"red", "green", "blue"}
    assert out[1] == {"file": str(bad), "error": f"{bad}: not a supported image (expected "
                                                  f"{predict.SUPPORTED})"}
    assert predict.main([str(model), str(good)]) == 0
    capsys.readouterr()
    assert predict.main([str(tmp_path / "none.onnx"), str(good)]) == 2
    assert "ONNX model not found" in capsys.readouterr().err
