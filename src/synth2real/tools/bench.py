"""`make bench`: speed ratios measured side by side in one run, on real bundle images.

1. Backbone feature extraction, eager PyTorch vs onnxruntime (images/s, same
   batches, same threads), with the max feature difference between the two.
2. Training every head of the offline study from cached features vs one naive
   epoch that pushes the same training images through the frozen backbone; and
   the study's training jobs beside its floor, the backbone passes alone
   (`bench_study`), as a ratio.
3. Serving (`bench_serving`): /compare latency through the running demo, and
   onnxruntime vs eager torch for the full classifier at batch 1 and 32.
4. Generation (`bench_generate`): configured vs diffusers-default settings,
   on a GPU only (says so plainly without one).

Numbers are printed, never asserted: they depend on the machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from synth2real.adapt.engine import fit_heads
from synth2real.config import Study, Train, load_file
from synth2real.model import stacked
from synth2real.model.backbone import Backbone, export_onnx, load_backbone, max_abs_diff
from synth2real.model.features import Extractor, batches
from synth2real.model.head import Head
from synth2real.tools import bench_study
from synth2real.tools.checkout import find_checkout


def sample_images(bundle: Path, n: int) -> list[str]:
    """`n` real bundle images, alternating source and target classes."""
    folders = [bundle / "source/tiny-imagenet" / c for c in ("dog", "cat", "bird")]
    folders += [bundle / "target/cifar10" / c for c in ("dog", "cat", "bird")]
    files = [sorted(f.iterdir()) for f in folders]
    return [str(files[i % len(files)][i // len(files)]) for i in range(n)]


def timed(fn: Callable[..., object], *args: object) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def bench_features(bb: Backbone, onnx_path: Path, paths: list[str], size: int, batch: int) -> dict[str, float]:
    pre = list(batches(paths, size, batch))  # decode once: compare the engines alone
    ex = Extractor(bb, "onnxruntime", onnx_path)
    ex.torch(pre[0]), ex(pre[0])  # warm-up both
    t_torch, f_torch = timed(lambda: np.concatenate([ex.torch(b) for b in pre]))
    t_ort, f_ort = timed(lambda: np.concatenate([ex(b) for b in pre]))
    return {"torch_ips": len(paths) / t_torch, "ort_ips": len(paths) / t_ort,
            "diff": max_abs_diff(f_torch, f_ort)}


def bench_heads(bb: Backbone, paths: list[str], size: int, cfg: Study,
                max_heads: int | None = None) -> dict[str, float]:
    n_train = len(cfg.classes) * int(max(cfg.synthetic.sizes) * (1 - cfg.synthetic.val_fraction))
    n_heads = min(len(cfg.variants) * len(cfg.seeds), max_heads or 10**9)
    # Training cost does not depend on feature values: real-shaped features suffice.
    rng = np.random.default_rng(0)
    X = torch.from_numpy(rng.normal(size=(n_train, 1280)).astype(np.float32))
    members = stacked.Members(np.arange(n_train), rng.integers(0, len(cfg.classes), n_train))
    plan = stacked.shuffled(n_train, cfg.train.batch_size)
    fit_heads(X, len(cfg.classes), [members], [plan], [0], Train(epochs=1))  # warm-up
    t0 = time.perf_counter()
    for first in range(0, n_heads, len(cfg.seeds)):  # as the study trains them: a variant's seeds at once
        seeds = range(first, min(first + len(cfg.seeds), n_heads))
        fit_heads(X, len(cfg.classes), [members] * len(seeds), [plan] * len(seeds), seeds, cfg.train)
    t_heads = time.perf_counter() - t0

    # Naive: one epoch of (decode, backbone forward, head step) over the training images,
    # measured on a sample and scaled linearly to the training-set size.
    head = Head(len(cfg.classes))
    opt = torch.optim.Adam(head.parameters(), lr=1e-3)
    labels = torch.from_numpy(rng.integers(0, len(cfg.classes), len(paths)))
    t0 = time.perf_counter()
    for i, b in enumerate(batches(paths, size, cfg.train.batch_size)):
        with torch.no_grad():
            f = bb(torch.from_numpy(b))
        loss = torch.nn.functional.cross_entropy(head(f), labels[i * len(b): i * len(b) + len(b)])
        opt.zero_grad()
        loss.backward()
        opt.step()
    t_naive = (time.perf_counter() - t0) * n_train / len(paths)
    return {"n_heads": n_heads, "n_train": n_train, "epochs": cfg.train.epochs,
            "t_heads": t_heads, "t_naive_epoch": t_naive}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bundle", type=Path, required=True)
    ap.add_argument("--images", type=int, default=256, help="images per measurement")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--models", default="models", help="exported ONNX models for [3]")
    ap.add_argument("--quick", action="store_true",
                    help="a short run (32 images, 2 heads): checks the bench works; ratios are rough")
    args = ap.parse_args(argv)
    if args.quick:
        args.images, args.batch = 32, 8
    sys.stdout.reconfigure(line_buffering=True)  # progress shows while the long parts run

    cfg = load_file(find_checkout() / "config" / "offline.yaml", {"bundle": str(args.bundle)})
    size = cfg.backbone.image_size
    threads = torch.get_num_threads()
    bb = load_backbone(cfg.backbone.weights.path)
    paths = sample_images(args.bundle, args.images)
    print(f"synth2real bench: {args.images} bundle images, {size} px, batch {args.batch}, "
          f"{threads} threads, torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = export_onnx(bb, Path(tmp) / "backbone.onnx", size, "features")
        f = bench_features(bb, onnx_path, paths, size, args.batch)
    print("\n[1] backbone feature extraction (preprocessed batches, same threads)")
    print(f"  eager PyTorch   {f['torch_ips']:8.1f} images/s")
    print(f"  onnxruntime     {f['ort_ips']:8.1f} images/s")
    print(f"  ratio ort/torch {f['ort_ips'] / f['torch_ips']:8.2f}x   "
          f"max |feature diff| {f['diff']:.2e} ({'agree' if f['diff'] <= 1e-4 else 'DIFFER'} at 1e-4)")

    h = bench_heads(bb, paths[: min(len(paths), 128)], size, cfg, max_heads=2 if args.quick else None)
    which = f"{h['n_heads']} (quick: a subset of the)" if args.quick else f"all {h['n_heads']}"
    print(f"\n[2] training {which} heads of the offline study "
          f"({h['n_train']} images, {h['epochs']} epochs each)")
    print(f"  all heads from cached features   {h['t_heads']:8.1f} s")
    print(f"  one naive epoch through backbone {h['t_naive_epoch']:8.1f} s (eager torch, "
          "scaled from 128 images)")
    head_epochs = h["n_heads"] * h["epochs"]
    cached_epoch = h["t_heads"] / head_epochs
    print(f"  one head-epoch from the cache    {cached_epoch:8.3f} s")
    print(f"  ratio naive / cached, per epoch {h['t_naive_epoch'] / cached_epoch:8.0f}x "
          f"(naive training of all heads: {head_epochs} epochs = "
          f"{head_epochs * h['t_naive_epoch'] / 3600:.0f} h)")

    print("\n  the offline study beside its floor (the backbone passes alone), this run:")
    study_cfg = cfg
    if args.quick:  # a few epochs of three jobs: checks the measurement, not the study
        study_cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"epochs": 2})})
    with tempfile.TemporaryDirectory() as tmp:
        st, _, costs = bench_study.measure(study_cfg, f["ort_ips"], Path(tmp), quick=args.quick)
    for line in bench_study.report(st, costs, quick=args.quick):
        print(line)

    print("\n[3] serving: the demo and the exported models")
    models = Path(args.models)
    if (models / "adapted.onnx").is_file():
        from synth2real.tools import bench_serving

        bench_serving.main(models, [Path(p) for p in sample_images(args.bundle, 12)[3::6]])
    else:
        print(f"  skipped: no exported models in {models}/ (run `make reproduce` first)")

    print("\n[4] Stable Diffusion generation")
    from synth2real.tools import bench_generate

    bench_generate.main([])


if __name__ == "__main__":
    main()
