"""GPU check: every code path that needs CUDA, run once, one line per check with its figure.

    python -m synth2real.tools.gpu_check [--bundle DIR] [--only NAME ...]   (make gpu-check)
    pytest -m gpu                                                            (tests/gpu)

Checks (names as printed), a few minutes in all on one GPU:

- ``torch``: torch sees a CUDA GPU (name, memory);
- ``onnxruntime``: the CUDA provider loads beside torch's CUDA libraries and is the
  one in use (`get_providers()`); a silent fallback to the CPU fails;
- ``features``: backbone features of 256 bundle images on the GPU equal the CPU's
  to 1e-4; throughput GPU vs CPU as a ratio;
- ``generation``: the tiny random Stable Diffusion pipeline in float16 on CUDA gives
  identical pixels for identical seeds in two runs, a smaller set is a prefix of a
  larger one (to 1/255), and the configured settings' speed over diffusers' defaults;
- ``study``: a slice of the offline study (source and real test features, then the
  baseline head of every seed) on GPU features gives the CPU's numbers, within the
  features' parity tolerance and the end-to-end test's +-2 test images per seed;
- ``pixel``: the paper config's full-sized GANs (SimGAN, CycleGAN) train a few steps on
  CUDA on 32 px bundle images, refine to 8-bit images of the input's shape, and their step
  time on the GPU over the CPU's, with the full schedule's projected GPU hours.

Without a CUDA GPU every check prints "skipped: no CUDA GPU (...)" and the exit
status is 0; a failed check prints "FAIL" and the status is 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synth2real.tools.checkout import find_checkout

N_IMAGES = 256
FEATURE_TOL = 1e-4
# Per class, the study slice: source images to train on, real photos to test on.
STUDY_SOURCE, STUDY_TEST = 200, 100
# A regenerated image may differ by 1/255 where a kernel rounds differently in another batch
# (as tests/integration/test_generate_tiny.py allows); repeated runs must be identical.
PREFIX_TOL = 1
# The paper config's generator with these settings, on the tiny pipeline.
GENERATION = {"dtype": "float16", "resolution": 256, "steps": 10, "batch_size": 4}
GENERATION_DEVICE = "cuda:0"
# The end-to-end test's tolerance on test accuracy, in test images per seed.
STUDY_IMAGES_TOL = 2
# The pixel check: source images per class at the real photos' side, timed steps per GAN.
PIXEL_IMAGES, PIXEL_SIDE, PIXEL_STEPS = 100, 32, 10


@dataclass
class Result:
    """One check's outcome: status is "ok", "FAIL" or "skipped"; figure says what was measured."""

    name: str
    status: str
    figure: str


def line(r: Result) -> str:
    """The printed line of a result, e.g. 'gpu-check features     ok: max |GPU-CPU| 3.1e-06 ...'."""
    return f"gpu-check {r.name:<12} {r.status}: {r.figure}"


def ratio(fast: float, slow: float) -> float:
    """`fast / slow` (e.g. GPU images/s over CPU images/s); inf when `slow` is 0."""
    return fast / slow if slow > 0 else float("inf")


def skip_reason(cuda: bool, providers: Sequence[str]) -> str | None:
    """Why the checks cannot run here (None: a CUDA GPU is visible to torch)."""
    if cuda:
        return None
    return f"no CUDA GPU (torch.cuda.is_available() False, onnxruntime providers {list(providers)})"


def cuda_state() -> tuple[bool, list[str]]:
    import onnxruntime as ort
    import torch

    return torch.cuda.is_available(), list(ort.get_available_providers())


# --- the checks; each returns its figure or raises -------------------------------------------

def check_torch(ctx: Context) -> str:
    import torch

    props = torch.cuda.get_device_properties(0)
    return (f"{props.name}, {props.total_memory / 2**30:.1f} GiB, {torch.cuda.device_count()} "
            f"visible; torch {torch.__version__}, CUDA {torch.version.cuda}")


def check_onnxruntime(ctx: Context) -> str:
    import onnxruntime as ort
    import torch

    torch.zeros(1, device="cuda")  # torch's CUDA libraries loaded first, as in a feature job
    session = ctx.session("cuda")  # raises when CUDA fell back to the CPU
    used = session.get_providers()
    if used[0] != "CUDAExecutionProvider":
        raise RuntimeError(f"CUDA is not the first provider: {used}")
    return f"providers {used}, onnxruntime {ort.__version__}"


def check_features(ctx: Context) -> str:
    from synth2real.model.backbone import max_abs_diff

    cpu, t_cpu = ctx.features(ctx.feature_paths, "cpu")
    gpu, t_gpu = ctx.features(ctx.feature_paths, "cuda")
    diff = max_abs_diff(gpu, cpu)
    n = len(ctx.feature_paths)
    figure = (f"max |GPU-CPU| {diff:.1e} on {n} images (tol {FEATURE_TOL:g}); "
              f"{n / t_gpu:.0f} vs {n / t_cpu:.0f} images/s, GPU/CPU {ratio(t_cpu, t_gpu):.1f}x")
    if diff > FEATURE_TOL:
        raise AssertionError(figure)
    return figure


def check_generation(ctx: Context) -> str:
    import torch

    from synth2real.config import load_file
    from synth2real.data.generate.shard import make_shard
    from synth2real.data.generate.weights import ResolvedModel
    from synth2real.tools.bench_generate import compare
    from synth2real.tools.checkout import tests_module

    save_tiny_pipeline = tests_module("tiny_pipeline").save_tiny_pipeline

    tmp = Path(ctx.tmp)
    model = ResolvedModel("tiny", "local", "local", str(save_tiny_pipeline(tmp / "tiny-sd")))
    gen = load_file(find_checkout() / "config" / "paper.yaml").synthetic.source.model_copy(update=GENERATION)

    def pixels(folder: str, n: int) -> list[np.ndarray]:
        out = gen.model_copy(update={"out_dir": str(tmp / folder)})
        make_shard(out, "dog", range(n), model)
        return [np.asarray(_open(tmp / folder / "dog" / f"{i:06d}.png")) for i in range(n)]

    a, b, large = pixels("run1", 4), pixels("run2", 4), pixels("large", 8)
    same = all(np.array_equal(x, y) for x, y in zip(a, b))
    prefix = max(int(np.abs(x.astype(int) - y.astype(int)).max()) for x, y in zip(a, large))
    rows = compare(gen, model, torch.device(GENERATION_DEVICE), 2 * gen.batch_size)
    speed = ratio(rows[1]["images_per_s"], rows[0]["images_per_s"])
    figure = (f"{gen.dtype} {gen.resolution} px: two runs {'identical' if same else 'DIFFER'}, "
              f"4 of 8 images prefix max diff {prefix}/255; configured/defaults {speed:.1f}x "
              f"({rows[1]['images_per_s']:.1f} vs {rows[0]['images_per_s']:.1f} images/s, "
              "tiny random pipeline, not Stable Diffusion)")
    if not same or prefix > PREFIX_TOL:
        raise AssertionError(figure)
    return figure


def check_study(ctx: Context) -> str:
    import torch

    from synth2real.adapt.engine import fit_heads
    from synth2real.model import stacked
    from synth2real.model.backbone import max_abs_diff
    from synth2real.model.head import predict_proba

    cfg, classes = ctx.config, ctx.config.classes
    src, ysrc = _labelled(Path(cfg.synthetic.source.root), classes, STUDY_SOURCE, "*.JPEG")
    test, ytest = _labelled(Path(cfg.real.source.root), classes, STUDY_TEST, "*.jpg")
    feats = {dev: [ctx.features(src, dev)[0], ctx.features(test, dev)[0]] for dev in ("cpu", "cuda")}
    diff = max(max_abs_diff(g, c) for g, c in zip(feats["cuda"], feats["cpu"]))
    members = stacked.Members(np.arange(len(ysrc)), ysrc)
    plan = stacked.shuffled(len(ysrc), cfg.train.batch_size)
    correct = {}
    for dev, (xs, xt) in feats.items():
        # The workflow's own training path: every seed's study head in one batched pass.
        fitted = fit_heads(torch.from_numpy(xs), len(classes), [members] * len(cfg.seeds),
                           [plan] * len(cfg.seeds), cfg.seeds, cfg.train)
        correct[dev] = [int((predict_proba(net, xt).argmax(1) == ytest).sum()) for net, _ in fitted]
    worst = max(abs(g - c) for g, c in zip(correct["cuda"], correct["cpu"]))
    accs = [f"{g}/{c}" for g, c in zip(correct["cuda"], correct["cpu"])]
    figure = (f"features max |GPU-CPU| {diff:.1e} (parity_tol {cfg.features.parity_tol:g}); "
              f"baseline test correct GPU/CPU per seed {' '.join(accs)} of {len(ytest)}, "
              f"worst {worst} (tol {STUDY_IMAGES_TOL})")
    if diff > cfg.features.parity_tol or worst > STUDY_IMAGES_TOL:
        raise AssertionError(figure)
    return figure


def check_pixel(ctx: Context) -> str:
    from synth2real.adapt.pixel import gan
    from synth2real.adapt.pixel.refine import load_square
    from synth2real.config import load_file

    pixel = load_file(find_checkout() / "config" / "paper.yaml").methods.pixel
    src = load_square(_labelled(Path(ctx.config.synthetic.source.root), ctx.config.classes,
                                PIXEL_IMAGES, "*.JPEG")[0], PIXEL_SIDE)
    tgt = load_square(ctx.feature_paths, PIXEL_SIDE)
    figures = []
    for part in ("simgan", "cyclegan"):
        settings = getattr(pixel, part)
        per_step = {}
        for device in ("cuda", "cpu"):
            ckpt = Path(ctx.tmp) / f"{part}-{device}.pt"
            # A first call of a few steps warms the device up; the second is timed.
            gan.train(part, settings, src, tgt, seed=0, checkpoint=ckpt, device=device,
                      max_steps=2)
            refiner, record = gan.train(part, settings, src, tgt, seed=0, checkpoint=ckpt,
                                        device=device, max_steps=PIXEL_STEPS)
            per_step[device] = record["seconds"] / record["steps"]["this_call"]
            if device == "cuda":
                out = refiner(src[:8])
                if out.dtype != np.uint8 or out.shape != src[:8].shape:
                    raise AssertionError(f"{part}: refined {out.dtype} {out.shape}")
                planned = record["steps"]["planned"]
        figures.append(f"{part} {1000 * per_step['cuda']:.0f} ms/step on the GPU, CPU/GPU "
                       f"{ratio(per_step['cpu'], per_step['cuda']):.0f}x, {planned} steps "
                       f"~{planned * per_step['cuda'] / 3600:.1f} h")
    return "; ".join(figures) + f" (paper config, {PIXEL_SIDE} px)"


CHECKS: dict[str, Callable[[Context], str]] = {
    "torch": check_torch, "onnxruntime": check_onnxruntime, "features": check_features,
    "generation": check_generation, "study": check_study, "pixel": check_pixel,
}


# --- shared inputs ---------------------------------------------------------------------------

class Context:
    """What the checks share: the offline config on `bundle`, the exported backbone, a temp dir."""

    def __init__(self, bundle: Path, tmp: str) -> None:
        from synth2real.config import load_file

        self.tmp = tmp
        self.config = load_file(find_checkout() / "config" / "offline.yaml",
                                {"bundle": str(bundle)})
        real = Path(self.config.real.source.root)
        paths = sorted(real.glob("*/*.jpg"))
        if len(paths) < N_IMAGES:
            raise FileNotFoundError(f"fewer than {N_IMAGES} images under {real}")
        # Spread over every class of the folder, not the first class's first photos.
        self.feature_paths = [str(paths[i * len(paths) // N_IMAGES]) for i in range(N_IMAGES)]
        self._onnx: str | None = None
        self._sessions: dict[str, object] = {}

    def onnx(self) -> str:
        if self._onnx is None:
            from synth2real.model.backbone import export_backbone

            c = self.config
            out = Path(self.tmp) / "backbone.onnx"
            export_backbone(str(out), str(out.with_suffix(".json")), backbone=c.backbone,
                            features=c.features, export=c.export)
            self._onnx = str(out)
        return self._onnx

    def session(self, device: str):
        from synth2real.model.backbone import ort_session

        if device not in self._sessions:
            self._sessions[device] = ort_session(self.onnx(), threads=os.cpu_count(), device=device)
        return self._sessions[device]

    def features(self, paths: Sequence[str], device: str) -> tuple[np.ndarray, float]:
        """Features of `paths` on `device` ("cpu"/"cuda") and the seconds they took
        (after one warm-up batch, so CUDA start-up is not counted)."""
        from synth2real.model.features import batches

        c = self.config
        session = self.session(device)
        chunks = list(batches(list(paths), c.backbone.image_size, c.features.batch_size))
        session.run(None, {"image": chunks[0]})
        t0 = time.perf_counter()
        out = [session.run(None, {"image": b})[0] for b in chunks]
        return np.concatenate(out), time.perf_counter() - t0


def _labelled(root: Path, classes: Sequence[str], per_class: int,
              pattern: str) -> tuple[list[str], np.ndarray]:
    paths, labels = [], []
    for k, cls in enumerate(classes):
        found = sorted(str(p) for p in (root / cls).glob(pattern))[:per_class]
        paths += found
        labels += [k] * len(found)
    return paths, np.asarray(labels)


def _open(path: Path):
    from PIL import Image

    with Image.open(path) as im:
        return im.convert("RGB")


def run(bundle: Path, only: Sequence[str] = (), emit: Callable[[str], None] = print) -> list[Result]:
    """Run the checks (all, or those named in `only`), emitting each line as it finishes."""
    cuda, providers = cuda_state()
    names = list(only) or list(CHECKS)
    reason = skip_reason(cuda, providers)
    results = []
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        ctx = None if reason else Context(bundle, tmp)
        for name in names:
            t0 = time.perf_counter()
            if reason:
                r = Result(name, "skipped", reason)
            else:
                try:
                    r = Result(name, "ok", f"{CHECKS[name](ctx)} [{time.perf_counter() - t0:.0f} s]")
                except Exception as e:  # noqa: BLE001 - every failure becomes that check's line
                    r = Result(name, "FAIL", f"{type(e).__name__}: {e}")
            emit(line(r))
            results.append(r)
    return results


def default_bundle() -> Path:
    """BUNDLE from the environment, else ../shared/bundle beside the checkout (as `make`)."""
    return Path(os.environ.get("BUNDLE") or find_checkout().parent / "shared" / "bundle").resolve()


def main(argv: Sequence[str] = ()) -> int:
    p = argparse.ArgumentParser(prog="python -m synth2real.tools.gpu_check",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--bundle", type=Path, default=None, help="offline bundle (default: $BUNDLE "
                   "or ../shared/bundle)")
    p.add_argument("--only", nargs="+", choices=list(CHECKS), default=[])
    args = p.parse_args(list(argv))
    results = run((args.bundle or default_bundle()).resolve(), args.only)
    return 1 if any(r.status == "FAIL" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
