"""The diffusers side of generation: device and dtype, the loaded pipeline, one batch call.

torch and diffusers are imported inside the functions that use them, so the
rest of the package (and the Snakefile) can import this module without them.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from synth2real.config import DiffusersGenerator
from synth2real.data.generate.plan import GenerationError
from synth2real.data.generate.weights import FETCH_HINT, ResolvedModel
from synth2real.data.prompts import ImageAsk

if TYPE_CHECKING:
    import torch
    from PIL import Image

log = logging.getLogger(__name__)


def resolve_dtype(gen: DiffusersGenerator, device_type: str) -> str:
    """The torch dtype name to generate in on `device_type` ('cuda' or 'cpu')."""
    if gen.dtype == "auto":
        return "float16" if device_type == "cuda" else "float32"
    if gen.dtype == "float16" and device_type != "cuda":
        raise GenerationError(
            "synthetic.source.dtype: float16 needs a CUDA GPU, and none is visible; "
            "use dtype: auto (float32 on CPU) or run on a GPU machine"
        )
    return gen.dtype


@contextmanager
def claim_device() -> Iterator[torch.device]:
    """The device this job generates on, held for the whole job.

    Under SLURM each job sees only its own GPU. A local run with
    several visible GPUs (`snakemake --resources gpu=N`) gives each concurrent
    job a different one, claimed with a per-GPU lock file.
    """
    import fcntl

    import torch

    if not torch.cuda.is_available():
        log.warning("no CUDA GPU visible: generating on the CPU in float32 "
                    "(Stable Diffusion at 512 px takes minutes per image there)")
        yield torch.device("cpu")
        return
    n = torch.cuda.device_count()
    if n == 1:
        yield torch.device("cuda:0")
        return
    ids = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")
    ids = ids if len(ids) == n else [str(i) for i in range(n)]
    lock_dir = Path(tempfile.gettempdir()) / f"synth2real-gpu-locks-{os.getuid()}"
    lock_dir.mkdir(exist_ok=True)
    while True:
        for i, gpu in enumerate(ids):
            fh = (lock_dir / f"gpu-{gpu}.lock").open("w")
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.close()
                continue
            try:
                log.info("claimed GPU %s (cuda:%d)", gpu, i)
                yield torch.device(f"cuda:{i}")
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
                fh.close()
            return
        time.sleep(5)  # more concurrent jobs than GPUs: wait for one to finish


def load_pipeline(model: ResolvedModel, gen: DiffusersGenerator, device: torch.device,
                  dtype: str, scheduler: str | None = None) -> Any:
    """Load the pipeline once per job, set up for speed: SDPA attention, channels-last, compile.

    `scheduler` overrides `gen.scheduler` (the benchmark compares both).
    """
    import torch
    import transformers
    from diffusers import AutoPipelineForText2Image, DPMSolverMultistepScheduler
    from diffusers.models.attention_processor import AttnProcessor2_0
    from diffusers.utils import logging as diffusers_logging

    # Their per-component loading bars would drown the shard's own progress bar.
    diffusers_logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()
    try:
        pipe = AutoPipelineForText2Image.from_pretrained(
            model.path, dtype=getattr(torch, dtype), local_files_only=True)
    except (OSError, ValueError) as e:
        raise GenerationError(
            f"could not load the pipeline of {model.model_id!r} from {model.path!r}: {e}. "
            f"An interrupted download leaves an incomplete cache: run `{FETCH_HINT}` again."
        ) from e
    if (scheduler or gen.scheduler) == "dpm-multistep":
        # DPM-Solver++ (2M): as good at ~25 steps as the default PNDM at 50.
        pipe.scheduler = DPMSolverMultistepScheduler.from_config(
            pipe.scheduler.config, algorithm_type="dpmsolver++", solver_order=2)
    # PyTorch's scaled_dot_product_attention (flash / memory-efficient kernels on CUDA).
    pipe.unet.set_attn_processor(AttnProcessor2_0())
    pipe.vae.set_attn_processor(AttnProcessor2_0())
    pipe.to(device)
    if device.type == "cuda":
        pipe.unet.to(memory_format=torch.channels_last)
        pipe.vae.to(memory_format=torch.channels_last)
    if gen.compile:
        pipe.unet = torch.compile(pipe.unet)
    pipe.set_progress_bar_config(disable=True)  # the shard's own bar counts images
    return pipe


def run_batch(pipe: Any, gen: DiffusersGenerator, asks: Sequence[ImageAsk], seeds: Sequence[int],
              steps: int | None = None) -> tuple[list[Image.Image], list[bool]]:
    """One pipeline call: images and safety flags, one per (ask, seed)."""
    import torch

    guidance = {a.guidance for a in asks}
    if len(guidance) != 1:
        raise ValueError(f"one guidance value per batch, got {sorted(guidance)}")
    negative = [a.negative_prompt or "" for a in asks]
    out = pipe(
        prompt=[a.prompt for a in asks],
        negative_prompt=negative if any(negative) else None,
        guidance_scale=guidance.pop(),
        num_inference_steps=steps or gen.steps,
        height=gen.resolution,
        width=gen.resolution,
        # CPU generators: the same noise on every device and in any batch.
        generator=[torch.Generator("cpu").manual_seed(s) for s in seeds],
        output_type="pil",
    )
    flags = getattr(out, "nsfw_content_detected", None) or [False] * len(asks)
    return list(out.images), [bool(f) for f in flags]


def is_blank(image: Image.Image) -> bool:
    """The safety checker replaces flagged images with black ones."""
    return int(np.asarray(image).max()) == 0
