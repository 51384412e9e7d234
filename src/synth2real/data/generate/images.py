"""One generated image: its identity, whether it is finished, its atomic write and record.

`generate_images` is the loop over a list of images still to make: batches,
pipeline calls, safety-checker retries with the next seed, progress.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synth2real.config import DiffusersGenerator
from synth2real.data.generate.pipeline import is_blank, run_batch
from synth2real.data.generate.plan import GenerationError, image_path, image_seed, record_path
from synth2real.data.generate.weights import ResolvedModel
from synth2real.data.prompts import ImageAsk
from synth2real.data.sources import sha256_file
from synth2real.predict import ImageError, load_image
from synth2real.store import read_json, write_json

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)


@dataclass
class Job:
    """One image still to make."""

    cls: str
    index: int
    ask: ImageAsk
    key: str
    base_seed: int
    attempt: int = 0
    blanked_seeds: list[int] = field(default_factory=list)

    @property
    def seed(self) -> int:
        return image_seed(self.base_seed, self.cls, self.index, self.attempt)


def settings_of(gen: DiffusersGenerator, model: ResolvedModel, dtype: str) -> dict[str, Any]:
    """Everything besides the per-image ask that determines the pixels."""
    return {"model": model.model_id, "revision": model.revision, "commit": model.commit,
            "scheduler": gen.scheduler, "steps": gen.steps, "width": gen.resolution,
            "height": gen.resolution, "dtype": dtype}


def image_key(settings: dict[str, Any], cls: str, index: int, ask: ImageAsk, seed: int) -> str:
    """A short hash of everything that determines one image's pixels."""
    blob = json.dumps({**settings, "class": cls, "index": index, "prompt": ask.prompt,
                       "negative_prompt": ask.negative_prompt, "guidance": ask.guidance,
                       "seed": seed}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def check_image(out_dir: str | Path, cls: str, index: int, key: str) -> str:
    """'done', or why the image must be (re)generated: missing / unrecorded / stale / corrupt."""
    img = image_path(out_dir, cls, index)
    if not img.is_file():
        return "missing"
    try:
        rec = read_json(record_path(out_dir, cls, index))
    except (OSError, ValueError):
        return "unrecorded"
    if rec.get("key") != key:
        return "stale"
    if sha256_file(img) != rec.get("sha256"):
        return "corrupt"
    try:
        load_image(img)
    except ImageError:
        return "corrupt"
    return "done"


def plan_batches(jobs: Sequence[Job], batch_size: int) -> list[list[Job]]:
    """Batches in index order; one guidance value per batch (a pipeline call takes one)."""
    groups: dict[float, list[Job]] = {}
    for job in sorted(jobs, key=lambda j: j.index):
        groups.setdefault(job.ask.guidance, []).append(job)
    return [g[i:i + batch_size] for g in groups.values() for i in range(0, len(g), batch_size)]


def save_image(image: Image.Image, path: Path) -> str:
    """Write atomically (dot-named temp file, then rename); returns the file's sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    image.save(tmp, format="PNG")
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return sha256_file(path)


def _record(job: Job, out_dir: str | Path, settings: dict[str, Any], device: str, seconds: float,
            digest: str) -> dict[str, Any]:
    return {
        "path": str(image_path(out_dir, job.cls, job.index)), "class": job.cls, "index": job.index,
        "prompt": job.ask.prompt, "negative_prompt": job.ask.negative_prompt or "",
        "seed": job.seed, "attempt": job.attempt,
        "blanked_seeds": " ".join(str(s) for s in job.blanked_seeds),
        "guidance": job.ask.guidance, **settings, "device": device,
        "seconds": round(seconds, 4), "sha256": digest,
        "created": datetime.now(UTC).isoformat(timespec="seconds"), "key": job.key,
    }


class Progress:
    """A tqdm bar (images/s, ETA) on the console and the same numbers in the log, per batch."""

    def __init__(self, total: int, label: str) -> None:
        from tqdm import tqdm

        self.total, self.label, self.done, self.t0 = total, label, 0, time.perf_counter()
        self.bar = tqdm(total=total, desc=label, unit="img", file=sys.stderr, mininterval=1.0,
                        dynamic_ncols=True)

    def update(self, n: int) -> None:
        self.done += n
        self.bar.update(n)
        rate = self.done / max(time.perf_counter() - self.t0, 1e-9)
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        log.info("%s: %d/%d images, %.2f img/s, ETA %s", self.label, self.done, self.total, rate,
                 time.strftime("%H:%M:%S", time.gmtime(eta)) if math.isfinite(eta) else "?")

    def close(self) -> float:
        self.bar.close()
        return self.done / max(time.perf_counter() - self.t0, 1e-9)


def generate_images(pipe: Any, gen: DiffusersGenerator, jobs: Sequence[Job], out_dir: str | Path,
                    settings: dict[str, Any], device: str, label: str) -> dict[str, int]:
    """Generate and save `jobs`; retry blanked images with the next seed. Returns counts."""
    queue, counts = list(jobs), {"generated": 0, "blanked": 0}
    progress = Progress(len(queue), label)
    try:
        while queue:
            retry: list[Job] = []
            for batch in plan_batches(queue, gen.batch_size):
                t0 = time.perf_counter()
                images, flags = run_batch(pipe, gen, [j.ask for j in batch], [j.seed for j in batch])
                seconds = (time.perf_counter() - t0) / len(batch)
                kept = 0
                for job, image, flagged in zip(batch, images, flags):
                    if flagged or is_blank(image):
                        counts["blanked"] += 1
                        retry.append(_next_attempt(job, gen))
                        continue
                    digest = save_image(image, image_path(out_dir, job.cls, job.index))
                    write_json(_record(job, out_dir, settings, device, seconds, digest),
                               record_path(out_dir, job.cls, job.index))
                    kept += 1
                counts["generated"] += kept
                progress.update(kept)
            queue = retry
    finally:
        rate = progress.close()
    log.info("%s: %d images generated (%.2f img/s), %d blanked by the safety checker and redone",
             label, counts["generated"], rate, counts["blanked"])
    return counts


def _next_attempt(job: Job, gen: DiffusersGenerator) -> Job:
    tried = [*job.blanked_seeds, job.seed]
    if job.attempt + 1 >= gen.max_attempts:
        raise GenerationError(
            f"image {job.index} of class {job.cls!r} was blanked by the safety checker for all "
            f"{gen.max_attempts} seeds tried ({tried}); prompt: {job.ask.prompt!r}. Change the "
            "prompt or negative_prompt, or raise synthetic.source.max_attempts"
        )
    log.warning("image %s/%d blanked by the safety checker (seed %d): retrying with the next seed",
                job.cls, job.index, job.seed)
    return Job(job.cls, job.index, job.ask, job.key, job.base_seed, job.attempt + 1, tried)
