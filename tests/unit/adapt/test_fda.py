"""FDA with known answers: beta that swaps nothing is the identity, the source's phase is kept
everywhere, the amplitude inside the window is the target's and outside it the source's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synth2real.adapt.pixel import refine
from synth2real.adapt.pixel.fda import fda, fda_uint8, low_frequencies, window
from synth2real.data.resolution import square


def images(seed: int, n: int = 3, side: int = 32) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (n, side, side, 3))


def spectrum(x: np.ndarray) -> np.ndarray:
    return np.fft.fft2(x, axes=(-3, -2))


def test_window_is_floor_beta_side():
    assert window(32, 0.01) == 0  # FDA's default swaps nothing at CIFAR's 32 px
    assert window(32, 0.09) == 2
    assert window(512, 0.01) == 5


def test_beta_that_swaps_nothing_is_the_identity():
    s, t = images(0), images(1)
    np.testing.assert_allclose(fda(s, t, 0.01), s, atol=1e-9)


def test_window_is_symmetric_and_counts_its_frequencies():
    m = low_frequencies(32, 32, 2)
    assert m.sum() == 9  # |k| <= 1 on both axes
    ky, kx = np.nonzero(m)
    # Hermitian pairs: frequency k in the window iff -k is.
    assert {(y, x) for y, x in zip(ky, kx)} == {((-y) % 32, (-x) % 32) for y, x in zip(ky, kx)}
    assert m[0, 0] and m[1, 31] and m[31, 1] and not m[2, 0] and not m[0, 30]


def test_phase_of_the_source_is_kept_and_amplitude_swapped_inside_the_window_only():
    s, t = images(2), images(3)
    out = fda(s, t, 0.09)
    fs, ft, fo = spectrum(s), spectrum(t), spectrum(out)
    inside = np.broadcast_to(low_frequencies(32, 32, 2)[None, :, :, None], fo.shape)
    np.testing.assert_allclose(np.abs(fo)[inside], np.abs(ft)[inside], rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(np.abs(fo)[~inside], np.abs(fs)[~inside], rtol=1e-9, atol=1e-6)
    # The phase, compared as unit phasors (angles wrap at +-pi).
    np.testing.assert_allclose(fo / np.abs(fo), fs / np.abs(fs), atol=1e-9)


def test_result_is_real_and_takes_the_targets_mean_colour():
    s = images(4)
    t = np.full_like(s, 10.0)
    t[..., 2] = 240.0  # a flat blue target: its whole spectrum is the zero frequency
    out = fda(s, t, 0.09)
    np.testing.assert_allclose(out.mean(axis=(1, 2)), t.mean(axis=(1, 2)), atol=1e-6)
    u8 = fda_uint8(s, t, 0.09)
    assert u8.dtype == np.uint8 and u8.shape == s.shape


def test_shapes_must_match():
    with pytest.raises(ValueError, match="one shape"):
        fda(images(0, side=32), images(0, side=16), 0.09)


def test_square_brings_images_to_the_aligned_side_centre_cropped(tmp_path):
    wide = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 96, 3), np.uint8))
    small = Image.fromarray(np.zeros((20, 24, 3), np.uint8))
    assert square(wide, 32).shape == (32, 32, 3)
    assert square(small, 32).shape == (32, 32, 3)
    square64 = Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), np.uint8))
    # A square image is exactly the aligned source's `degrade` (the unrefined twin's pixels).
    from synth2real.data.resolution import degrade
    np.testing.assert_array_equal(square(square64, 32), np.asarray(degrade(square64, 32)))


def write_sets(tmp_path, n=4):
    """A source manifest of 64 px images (two classes) and a pool of 32 px ones."""
    from synth2real.data.manifests import POOL_FIELDS, SOURCE_FIELDS, write_csv

    rng = np.random.default_rng(0)
    src, pool = [], []
    for i in range(n):
        p = tmp_path / "src" / f"im{i}.png"
        p.parent.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), np.uint8)).save(p)
        src.append({"path": str(p), "label": "ab"[i % 2], "rank": i // 2,
                    "split": "train" if i < n - 2 else "val"})
        q = tmp_path / "pool" / f"im{i}.png"
        q.parent.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), np.uint8)).save(q)
        pool.append({"path": str(q), "true_label": "a", "in_domain": 1})
    write_csv(tmp_path / "source.csv", src, SOURCE_FIELDS)
    write_csv(tmp_path / "pool.csv", pool, POOL_FIELDS)


def run_fda(tmp_path, out, beta=0.09):
    from synth2real.config import Align
    from synth2real.config.pixel import Pixel

    refine.refine(str(tmp_path / "source.csv"), str(tmp_path / "pool.csv"), str(out / "images"),
                  str(out / "refined.csv"), str(out / "stats.json"), part="fda",
                  pixel=Pixel(fda={"beta": beta}), align=Align(), data_seed=0,
                  resume=str(out / "resume.pt"))


def test_the_refine_stage_writes_one_refined_image_per_source_image(tmp_path):
    from synth2real.data.manifests import read_csv
    from synth2real.store import read_json

    write_sets(tmp_path)
    run_fda(tmp_path, tmp_path / "a")
    rows = read_csv(tmp_path / "a" / "refined.csv")
    assert [r["path"] for r in rows] == [r["path"] for r in read_csv(tmp_path / "source.csv")]
    pool = {r["path"] for r in read_csv(tmp_path / "pool.csv")}
    for r in rows:
        im = np.asarray(Image.open(r["refined"]))
        assert im.shape == (32, 32, 3)  # the pool's side
        assert r["style"] in pool and r["refined"].endswith(f"{r['label']}/0000{r['rank']}_"
                                                            f"{Path(r['path']).stem}.png")
        # The refined image is FDA of the aligned original with its style image's amplitude.
        src = square(Image.open(r["path"]), 32).astype(np.float64)
        sty = np.asarray(Image.open(r["style"])).astype(np.float64)
        np.testing.assert_array_equal(im, fda_uint8(src, sty, 0.09))
    stats = read_json(tmp_path / "a" / "stats.json")
    assert (stats["side"], stats["fda"]["window"], stats["fda"]["frequencies_swapped"]) == (32, 2, 9)
    # Same seed, same images.
    run_fda(tmp_path, tmp_path / "b")
    for r in rows:
        other = Path(r["refined"].replace(str(tmp_path / "a"), str(tmp_path / "b")))
        assert other.read_bytes() == Path(r["refined"]).read_bytes()


def test_a_beta_that_swaps_nothing_is_refused_naming_the_key(tmp_path):
    from synth2real.errors import ConfigError

    write_sets(tmp_path)
    with pytest.raises(ConfigError, match=r"methods\.pixel\.fda\.beta=0\.01 swaps no frequency"):
        run_fda(tmp_path, tmp_path / "a", beta=0.01)
