"""The real generation code on a tiny random Stable Diffusion pipeline (CPU, offline).

The pipeline is built here, written with `save_pretrained` and loaded by the
generation code through `from_pretrained`, like Stable Diffusion itself.
Pixel comparisons are exact where the batches are the same; where an image
is regenerated alone they allow 1/255, because a kernel may round differently
at another batch size (noise, prompt and guidance are identical either way).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from synth2real import config
from synth2real.config import Study
from synth2real.data import manifests
from synth2real.data.generate import plan, shard, weights
from synth2real.data.sources import sha256_file
from synth2real.store import read_json
from tests.conftest import REPO

CLASSES = ["dog", "cat"]


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread, as a Snakemake job with `threads: 1` gets (fast on a busy CPU)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_sd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.tiny_pipeline import save_tiny_pipeline

    return save_tiny_pipeline(tmp_path_factory.mktemp("tiny-sd") / "pipeline")


def study(model: Path | str, out_dir: Path, sizes: tuple[int, ...] = (6,), **source: object) -> Study:
    raw = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    raw["classes"] = CLASSES
    raw["synthetic"]["sizes"] = list(sizes)
    raw["pseudo_label"]["source_size"] = max(sizes)
    raw["synthetic"]["source"].update({"model_id": str(model), "resolution": 64, "steps": 2,
                                       "batch_size": 2, "shard_size": 6, "out_dir": str(out_dir),
                                       **source})
    return config.load(raw)


def model_json(cfg: Study, where: Path) -> str:
    path = where / "model.json"
    gen = cfg.synthetic.source
    weights.write_model_info(str(path), model_id=gen.model_id, revision=gen.revision)
    return str(path)


def make_all(cfg: Study, where: Path, classes: list[str] = CLASSES) -> dict[str, int]:
    """Every shard of every class, as the workflow would; summed counts."""
    mj, total = model_json(cfg, where), {}
    gen = cfg.synthetic.source
    for cls in classes:
        for k in range(plan.shard_count(gen, cfg.max_size)):
            counts = shard.run_shard(mj, str(where / f"{cls}-shard{k}.csv"), cls=cls, generator=gen,
                                     indices=plan.shard_indices(gen, cfg.max_size, k))
            for key, v in counts.items():
                total[key] = total.get(key, 0) + v
    return total


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.int16)


def folder_pixels(out_dir: Path, cls: str) -> dict[str, np.ndarray]:
    return {p.name: pixels(p) for p in sorted((out_dir / cls).iterdir())}


def stamps(out_dir: Path, cls: str) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (out_dir / cls).iterdir()}


def test_same_config_same_pixels_other_seed_other_pixels(tiny_sd, tmp_path):
    a = study(tiny_sd, tmp_path / "a", sizes=(5,), shard_size=5)
    counts = make_all(a, tmp_path / "a", ["dog"])
    assert counts["generated"] == 5 and counts["done"] == 0
    make_all(study(tiny_sd, tmp_path / "b", sizes=(5,), shard_size=5), tmp_path / "b", ["dog"])
    make_all(study(tiny_sd, tmp_path / "c", sizes=(5,), shard_size=5, base_seed=1), tmp_path / "c",
             ["dog"])
    pa, pb, pc = (folder_pixels(tmp_path / d, "dog") for d in "abc")
    assert list(pa) == [f"{i:06d}.png" for i in range(5)]
    assert all(np.array_equal(pa[n], pb[n]) for n in pa)
    assert all(not np.array_equal(pa[n], pc[n]) for n in pa)
    # Five distinct seeds, five distinct images, none blank.
    assert len({pa[n].tobytes() for n in pa}) == 5
    assert all(pa[n].max() > 0 for n in pa)


def test_small_set_is_prefix_of_large_set_and_growing_keeps_it(tiny_sd, tmp_path):
    grow = tmp_path / "grow"
    make_all(study(tiny_sd, grow, sizes=(5,), shard_size=4), tmp_path / "g1", ["cat"])
    before, small = stamps(grow, "cat"), folder_pixels(grow, "cat")
    counts = make_all(study(tiny_sd, grow, sizes=(5, 9), shard_size=4), tmp_path / "g2", ["cat"])
    assert counts["done"] == 5 and counts["generated"] == 4
    after = stamps(grow, "cat")
    assert {n: after[n] for n in before} == before  # the 5 set was not rewritten
    assert len(after) == 9
    fresh = tmp_path / "fresh"
    make_all(study(tiny_sd, fresh, sizes=(5, 9), shard_size=4), tmp_path / "f", ["cat"])
    large = folder_pixels(fresh, "cat")
    assert list(large)[:5] == list(small)
    for name, img in small.items():
        assert np.abs(large[name] - img).max() <= 1
    # What the source manifest takes as "the first 5" are exactly images 0..4.
    rows = manifests.source_rows(fresh, ["cat"], 5, 0.2, 0, shuffle=False)
    assert [Path(str(r["path"])).name for r in rows] == list(small)


KILL_SCRIPT = """
import os, signal, sys
import torch
torch.set_num_threads(1)
from synth2real import config
from synth2real.data.generate import images, plan, shard
import yaml
cfg = config.load(yaml.safe_load(open(sys.argv[1])))
k, done = int(sys.argv[2]), []
real_save = images.save_image

def dying_save(image, path):
    if len(done) == k:
        # Killed while writing: the temp file exists, the image never appears.
        image.save(path.with_name(f".{path.name}.tmp{os.getpid()}"), format="PNG")
        os.kill(os.getpid(), signal.SIGKILL)
    done.append(path)
    return real_save(image, path)

images.save_image = dying_save
gen = cfg.synthetic.source
shard.run_shard(sys.argv[3], sys.argv[4], cls="dog", generator=gen,
                indices=plan.shard_indices(gen, cfg.max_size, 0))
"""


def test_killed_shard_resumes_to_exact_set_without_redoing_finished_images(tiny_sd, tmp_path):
    out = tmp_path / "out"
    cfg = study(tiny_sd, out)
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    (tmp_path / "kill.py").write_text(KILL_SCRIPT)
    mj, shard_csv = model_json(cfg, tmp_path), tmp_path / "shard.csv"
    proc = subprocess.run([sys.executable, str(tmp_path / "kill.py"), str(tmp_path / "cfg.yaml"),
                           "3", mj, str(shard_csv)], capture_output=True, text=True, cwd=REPO,
                          check=False, timeout=300)
    assert proc.returncode == -9, proc.stderr[-3000:]
    left = sorted(p.name for p in (out / "dog").iterdir())
    temps = [n for n in left if n.startswith(".")]
    assert [n for n in left if not n.startswith(".")] == ["000000.png", "000001.png", "000002.png"]
    assert len(temps) == 1 and temps[0].startswith(".000003.png.tmp")  # the half-done write
    assert not shard_csv.exists()
    survivors = stamps(out, "dog")

    gen = cfg.synthetic.source
    counts = shard.run_shard(mj, str(shard_csv), cls="dog", generator=gen,
                             indices=plan.shard_indices(gen, cfg.max_size, 0))
    assert counts["done"] == 3 and counts["missing"] == 3 and counts["generated"] == 3
    final = sorted(p.name for p in (out / "dog").iterdir())
    assert final == [f"{i:06d}.png" for i in range(6)]  # no temp files, no duplicates
    now = stamps(out, "dog")
    assert {n: now[n] for n in survivors if not n.startswith(".")} == {
        n: v for n, v in survivors.items() if not n.startswith(".")}

    reference = tmp_path / "reference"
    make_all(study(tiny_sd, reference), tmp_path / "r", ["dog"])
    ref = folder_pixels(reference, "dog")
    for name, img in folder_pixels(out, "dog").items():
        assert np.abs(ref[name] - img).max() <= 1
    rows = manifests.read_csv(shard_csv)
    assert [int(r["index"]) for r in rows] == list(range(6))


def test_corrupt_missing_and_unrecorded_images_are_regenerated(tiny_sd, tmp_path, monkeypatch):
    out = tmp_path / "out"
    cfg = study(tiny_sd, out)
    make_all(cfg, tmp_path, ["dog"])
    original = folder_pixels(out, "dog")
    data = (out / "dog" / "000001.png").read_bytes()
    (out / "dog" / "000001.png").write_bytes(data[: len(data) // 2])  # truncated
    (out / "dog" / "000002.png").write_bytes(b"not a png at all")  # unreadable
    (out / "dog" / "000004.png").unlink()  # missing
    plan.record_path(out, "dog", 5).unlink()  # killed between image and record
    before = stamps(out, "dog")

    counts = make_all(cfg, tmp_path, ["dog"])
    assert (counts["corrupt"], counts["missing"], counts["unrecorded"], counts["done"]) == (2, 1, 1, 2)
    assert counts["generated"] == 4
    after = stamps(out, "dog")
    assert after["000000.png"] == before["000000.png"] and after["000003.png"] == before["000003.png"]
    for name, img in folder_pixels(out, "dog").items():
        assert np.abs(original[name] - img).max() <= 1
    manifests.verify_images((out / "dog").iterdir())

    # Everything finished: a rerun verifies the files and does not even load the model.
    def no_load(*args, **kwargs):
        raise AssertionError("pipeline loaded although every image is finished")

    monkeypatch.setattr(shard, "load_pipeline", no_load)
    assert make_all(cfg, tmp_path, ["dog"])["done"] == 6


def test_changed_settings_regenerate_instead_of_mixing(tiny_sd, tmp_path):
    out = tmp_path / "out"
    make_all(study(tiny_sd, out, sizes=(5,), shard_size=5), tmp_path / "a", ["dog"])
    counts = make_all(study(tiny_sd, out, sizes=(5,), shard_size=5, steps=3), tmp_path / "b", ["dog"])
    assert counts["stale"] == 5 and counts["generated"] == 5
    assert {read_json(plan.record_path(out, "dog", i))["steps"] for i in range(5)} == {3}


def _blanking(monkeypatch: pytest.MonkeyPatch, blank: callable) -> list[int]:
    """Give loaded pipelines a fake safety checker that blanks the images `blank` picks.

    `blank(call, position)` -> True to flag that image. Returns the batch sizes seen.
    """
    real_load, calls = shard.load_pipeline, []

    def load(*args, **kwargs):
        pipe = real_load(*args, **kwargs)

        def fake_checker(image, device, dtype):
            calls.append(image.shape[0])
            flags = [blank(len(calls) - 1, i) for i in range(image.shape[0])]
            image = image.clone()
            for i, flagged in enumerate(flags):
                if flagged:
                    image[i] = 0  # what StableDiffusionSafetyChecker does: black
            return image, flags

        pipe.run_safety_checker = fake_checker
        return pipe

    monkeypatch.setattr(shard, "load_pipeline", load)
    return calls


def test_blanked_image_is_replaced_with_the_next_seed(tiny_sd, tmp_path, monkeypatch):
    out = tmp_path / "out"
    cfg = study(tiny_sd, out)
    # First call has images 0 and 1; blank image 1 there, and again on its first retry.
    retry_calls: list[int] = []

    def blank(call: int, pos: int) -> bool:
        if call == 0:
            return pos == 1
        if call == 3 and not retry_calls:  # calls 1, 2: images 2-5; call 3: the retry
            retry_calls.append(call)
            return True
        return False

    calls = _blanking(monkeypatch, blank)
    counts = make_all(cfg, tmp_path, ["dog"])
    assert counts["blanked"] == 2 and counts["generated"] == 6
    assert calls == [2, 2, 2, 1, 1]
    rec = read_json(plan.record_path(out, "dog", 1))
    seeds = [plan.image_seed(cfg.synthetic.source.base_seed, "dog", 1, a) for a in range(3)]
    assert rec["attempt"] == 2 and rec["seed"] == seeds[2]
    assert rec["blanked_seeds"] == f"{seeds[0]} {seeds[1]}"
    assert all(pixels(p).max() > 0 for p in (out / "dog").iterdir())
    assert read_json(plan.record_path(out, "dog", 0))["attempt"] == 0


def test_image_blanked_for_every_seed_fails_with_its_name(tiny_sd, tmp_path, monkeypatch):
    cfg = study(tiny_sd, tmp_path / "out", max_attempts=2)
    _blanking(monkeypatch, lambda call, pos: True)
    with pytest.raises(plan.GenerationError, match=r"image 0 of class 'dog' was blanked .* 2 seeds"):
        make_all(cfg, tmp_path, ["dog"])
    assert not any((tmp_path / "out" / "dog").glob("*.png"))


def test_manifest_matches_files_and_settings(tiny_sd, tmp_path):
    out = tmp_path / "out"
    cfg = study(tiny_sd, out, sizes=(5, 8), shard_size=3, batch_size=3, prompt_set="diverse",
                guidance_range=[3.0, 9.0], guidance_step=3.0, negative_prompt="blurry")
    make_all(cfg, tmp_path)
    gen = cfg.synthetic.source
    csvs = [str(tmp_path / f"{c}-shard{k}.csv") for c in CLASSES for k in range(3)]
    shard.merge_manifest(csvs, str(tmp_path / "manifest.csv"), classes=cfg.classes,
                         sizes=cfg.synthetic.sizes)
    rows = manifests.read_csv(tmp_path / "manifest.csv")
    files = sorted(str(p) for c in CLASSES for p in (out / c).iterdir())
    assert sorted(r["path"] for r in rows) == files and len(rows) == 16
    assert list(rows[0]) == plan.MANIFEST_FIELDS
    for r in rows:
        i = int(r["index"])
        assert Path(r["path"]).name == f"{i:06d}.png"
        assert r["sha256"] == sha256_file(Path(r["path"]))
        assert int(r["seed"]) == plan.image_seed(0, r["class"], i)
        assert f" of a {r['class']}, " in r["prompt"] and r["negative_prompt"] == "blurry"
        assert float(r["guidance"]) in {3.0, 6.0, 9.0}
        assert (r["model"], r["commit"], r["scheduler"]) == (str(tiny_sd), "local", "dpm-multistep")
        assert (r["steps"], r["width"], r["height"], r["dtype"]) == ("2", "64", "64", "float32")
        assert float(r["seconds"]) > 0
    assert len({r["guidance"] for r in rows}) > 1 and len({r["prompt"] for r in rows}) > 8
    # The folder is what the source manifest consumes: images only, in index order.
    src = manifests.source_rows(Path(gen.out_dir), CLASSES, 8, 0.2, 0, shuffle=False)
    assert [r["path"] for r in src] == [r["path"] for r in rows]
    # A missing shard is named, not silently skipped.
    with pytest.raises(plan.GenerationError, match="class 'cat' list 6 images"):
        shard.merge_manifest(csvs[:-1], str(tmp_path / "m2.csv"), classes=cfg.classes,
                             sizes=cfg.synthetic.sizes)


OFFLINE_SCRIPT = """
import sys
from synth2real import config
from synth2real.data.generate import weights
from synth2real.errors import Synth2RealError
import yaml
cfg = config.load(yaml.safe_load(open(sys.argv[1])))
try:
    weights.write_model_info(sys.argv[2], model_id=cfg.synthetic.source.model_id,
                             revision=cfg.synthetic.source.revision)
except Synth2RealError as e:
    print(f"{type(e).__name__}: {e}", file=sys.stderr)
    sys.exit(3)
"""


def _offline_run(tmp_path: Path, cfg: Study, hf_home: Path) -> subprocess.CompletedProcess:
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    (tmp_path / "run.py").write_text(OFFLINE_SCRIPT)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(hf_home)}
    env.pop("HF_HUB_CACHE", None)
    return subprocess.run([sys.executable, str(tmp_path / "run.py"), str(tmp_path / "cfg.yaml"),
                           str(tmp_path / "model.json")], capture_output=True, text=True, env=env,
                          cwd=REPO, check=False, timeout=300)


def test_offline_without_cached_model_fails_at_once_naming_model_cache_and_fix(tmp_path):
    hf_home = tmp_path / "empty-hf"
    cfg = study("stable-diffusion-v1-5/stable-diffusion-v1-5", tmp_path / "out")
    proc = _offline_run(tmp_path, cfg, hf_home)
    assert proc.returncode == 3, proc.stderr[-3000:]
    msg = proc.stderr.strip().splitlines()[-1]
    assert msg.startswith("ModelNotCachedError: ")
    assert "'stable-diffusion-v1-5/stable-diffusion-v1-5'" in msg
    assert str(hf_home / "hub") in msg and "HF_HUB_OFFLINE=1" in msg
    assert "make fetch-weights" in msg
    assert not (tmp_path / "out").exists() and not (tmp_path / "model.json").exists()


def test_cached_hub_model_is_used_offline(tiny_sd, tmp_path, monkeypatch):
    import shutil

    from huggingface_hub import constants

    # The hub cache layout: models--<org>--<name>/{refs/main, snapshots/<commit>/...}.
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--test-org--tiny-sd"
    shutil.copytree(tiny_sd, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    # What HF_HOME=<tmp> HF_HUB_OFFLINE=1 set at import time (see the subprocess test above).
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    cfg = study("test-org/tiny-sd", tmp_path / "out", sizes=(5,), shard_size=5, batch_size=5)
    assert make_all(cfg, tmp_path, ["dog"])["generated"] == 5
    info = read_json(tmp_path / "model.json")
    assert info["commit"] == commit and info["path"].endswith(f"snapshots/{commit}")
    rows = manifests.read_csv(tmp_path / "dog-shard0.csv")
    assert {(r["model"], r["revision"], r["commit"]) for r in rows} == {
        ("test-org/tiny-sd", "main", commit)}
    # A revision that is not cached is named as such, not silently replaced by main.
    other = study("test-org/tiny-sd", tmp_path / "out", sizes=(5,), revision="v2")
    with pytest.raises(weights.ModelNotCachedError, match=r"'test-org/tiny-sd' \(revision 'v2'\)"):
        weights.write_model_info(str(tmp_path / "m2.json"), model_id=other.synthetic.source.model_id,
                                 revision=other.synthetic.source.revision)


@pytest.mark.gpu
def test_cuda_float16_compiled_generation_is_deterministic(tiny_sd, tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    for run in ("a", "b"):
        make_all(study(tiny_sd, tmp_path / run, sizes=(5,), shard_size=5, batch_size=5,
                       compile=True), tmp_path / run, ["dog"])
    pa, pb = folder_pixels(tmp_path / "a", "dog"), folder_pixels(tmp_path / "b", "dog")
    assert all(np.array_equal(pa[n], pb[n]) for n in pa)
    rec = read_json(plan.record_path(tmp_path / "a", "dog", 0))
    assert rec["dtype"] == "float16" and rec["device"].startswith("cuda")


def test_fetch_weights_offline_names_model_cache_and_fix(tmp_path, monkeypatch, capsys):
    from huggingface_hub import constants

    from synth2real.tools import fetch_weights

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(SystemExit) as exit_info:
        fetch_weights.main(["--config", str(REPO / "config" / "paper.yaml")])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "stable-diffusion-v1-5/stable-diffusion-v1-5" in err and str(tmp_path / "hub") in err
    # A config whose weights are local files has nothing to fetch.
    capsys.readouterr()
    fetch_weights.main(["--config", str(REPO / "config" / "offline.yaml"),
                        "--bundle", str(Path(os.environ.get("BUNDLE", REPO.parent / "shared" / "bundle")))])
    assert "nothing to fetch" in capsys.readouterr().out


def test_benchmark_compares_defaults_with_configured_settings(tiny_sd):
    import torch

    from synth2real.tools import bench_generate

    cfg = study(tiny_sd, Path("unused"), batch_size=2)
    gen = cfg.synthetic.source
    model = weights.resolve_model(gen.model_id, gen.revision, download=False)
    rows = bench_generate.compare(cfg.synthetic.source, model, torch.device("cpu"), images=2)
    assert [r["setting"] for r in rows] == ["diffusers defaults", "configured"]
    assert (rows[0]["steps"], rows[0]["batch"], rows[0]["scheduler"]) == (50, 1, "PNDMScheduler")
    assert (rows[1]["steps"], rows[1]["batch"]) == (2, 2)
    assert rows[1]["scheduler"] == "DPMSolverMultistepScheduler"
    assert all(r["images_per_s"] > 0 for r in rows)
    text = bench_generate.report(rows, "tiny", "CPU")
    assert "speed-up of the configured settings" in text


def test_benchmark_says_plainly_when_there_is_no_gpu(capsys):
    import torch

    from synth2real.tools import bench_generate

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    bench_generate.main()
    assert "skipped, no CUDA GPU visible" in capsys.readouterr().out
