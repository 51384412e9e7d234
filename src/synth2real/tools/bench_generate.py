"""Generation speed, side by side: the configured settings vs diffusers' defaults.

Both rows run in one process on the same device with the same model and
prompts, and report images per second after one warm-up call:

- ``diffusers defaults``: `from_pretrained` as is (float32, the model's own
  scheduler, PNDM for SD 1.5), 50 steps, one image per call;
- ``configured``: what `generate_shard` does: the config's dtype (float16 on
  CUDA), scheduler and steps, `batch_size` images per call, SDPA attention,
  channels-last, and `torch.compile` when the config asks for it.

Without a CUDA GPU it says so and stops (CPU numbers say nothing about a GPU
run), unless `--cpu` is given. When the configured model is not cached, or
with `--tiny`, it uses the tiny random pipeline (`tests/tiny_pipeline.py` of the checkout):
that measures the pipeline's overheads, not Stable Diffusion.

    python -m synth2real.tools.bench_generate [--config config/paper.yaml] [--tiny] [--cpu]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from synth2real.config import DiffusersGenerator, load_file
from synth2real.data.generate.pipeline import load_pipeline, resolve_dtype, run_batch
from synth2real.data.generate.plan import GenerationError, image_seed
from synth2real.data.generate.weights import ResolvedModel, resolve_model
from synth2real.data.prompts import ask_for


def _images_per_second(pipe: Any, gen: DiffusersGenerator, n: int, steps: int) -> float:
    """Generate `n` images in calls of `gen.batch_size` (after one warm-up call)."""
    asks = [ask_for(gen, "dog", i) for i in range(n)]
    # One guidance value, so batches are exactly batch_size (as with the default config).
    asks = [type(a)(a.prompt, a.negative_prompt, asks[0].guidance) for a in asks]
    seeds = [image_seed(gen.base_seed, "dog", i) for i in range(n)]
    b = gen.batch_size
    run_batch(pipe, gen, asks[:b], seeds[:b], steps)  # warm-up (and compilation)
    t0 = time.perf_counter()
    for i in range(0, n, b):
        run_batch(pipe, gen, asks[i:i + b], seeds[i:i + b], steps)
    return n / (time.perf_counter() - t0)


def _plain_pipeline(path: str, device: Any) -> Any:
    from diffusers import AutoPipelineForText2Image

    pipe = AutoPipelineForText2Image.from_pretrained(path, local_files_only=True).to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def compare(gen: DiffusersGenerator, model: ResolvedModel, device: Any,
            images: int) -> list[dict[str, Any]]:
    """images/s of the two settings (in this order: defaults, configured)."""
    import torch

    dtype = resolve_dtype(gen, device.type)
    default = gen.model_copy(update={"batch_size": 1, "compile": False})
    rows = []
    pipe = _plain_pipeline(model.path, device)
    rows.append({"setting": "diffusers defaults", "dtype": "float32",
                 "scheduler": type(pipe.scheduler).__name__, "steps": 50, "batch": 1,
                 "images_per_s": _images_per_second(pipe, default, images, 50)})
    del pipe
    if device.type == "cuda":
        torch.cuda.empty_cache()
    pipe = load_pipeline(model, gen, device, dtype)
    rows.append({"setting": "configured", "dtype": dtype,
                 "scheduler": type(pipe.scheduler).__name__, "steps": gen.steps,
                 "batch": gen.batch_size, "compile": gen.compile,
                 "images_per_s": _images_per_second(pipe, gen, images, gen.steps)})
    return rows


def report(rows: Sequence[dict[str, Any]], what: str, device: str) -> str:
    lines = [f"generation benchmark: {what} on {device}"]
    for r in rows:
        lines.append(f"  {r['setting']:<20} {r['dtype']:<8} {r['scheduler']:<28} {r['steps']:>3} steps "
                     f"batch {r['batch']:>2}: {r['images_per_s']:8.2f} images/s")
    lines.append(f"  speed-up of the configured settings: "
                 f"{rows[1]['images_per_s'] / rows[0]['images_per_s']:.2f}x")
    return "\n".join(lines)


def main(argv: Sequence[str] = ()) -> None:
    """Print the comparison; on a machine without a CUDA GPU, say so (unless --cpu)."""
    import torch

    p = argparse.ArgumentParser(prog="python -m synth2real.tools.bench_generate",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="config/paper.yaml")
    p.add_argument("--tiny", action="store_true", help="use the tiny random pipeline")
    p.add_argument("--cpu", action="store_true", help="run on the CPU when no GPU is visible")
    p.add_argument("--images", type=int, default=None, help="images per setting (default 2 batches)")
    args = p.parse_args(list(argv))
    cuda = torch.cuda.is_available()
    if not cuda and not args.cpu:
        print("generation benchmark: skipped, no CUDA GPU visible. Stable Diffusion generation "
              "is measured on a GPU only (python -m synth2real.tools.bench_generate --cpu --tiny "
              "runs the comparison on the CPU with a tiny random pipeline).")
        return
    device = torch.device("cuda:0" if cuda else "cpu")
    gen = load_file(args.config).synthetic.source
    if not isinstance(gen, DiffusersGenerator):
        gen = DiffusersGenerator(kind="diffusers")
    images = args.images or 2 * gen.batch_size
    with tempfile.TemporaryDirectory() as tmp:
        model = None if args.tiny else _cached(gen)
        what = f"{gen.model_id}@{gen.revision}"
        if model is None:
            from synth2real.tools.checkout import tests_module

            save_tiny_pipeline = tests_module("tiny_pipeline").save_tiny_pipeline
            gen = gen.model_copy(update={"resolution": 64 if not cuda else 256})
            model = ResolvedModel("tiny", "local", "local", str(save_tiny_pipeline(tmp)))
            what = (f"tiny random pipeline at {gen.resolution} px (NOT Stable Diffusion"
                    + ("" if args.tiny else f"; {gen.model_id} is not cached") + ")")
        rows = compare(gen, model, device, images)
    name = torch.cuda.get_device_name(device) if cuda else "CPU"
    print(report(rows, f"{what}, {images} images per setting", name))


def _cached(gen: DiffusersGenerator) -> ResolvedModel | None:
    try:
        return resolve_model(gen.model_id, gen.revision, download=False)
    except GenerationError:
        return None


if __name__ == "__main__":
    main(sys.argv[1:])
