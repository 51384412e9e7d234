"""Stable Diffusion generation of the synthetic images, one shard (class x index range) per job.

On disk:

    <out_dir>/<cls>/<index:06d>.png          finished images only (atomic rename)
    <out_dir>/.meta/<cls>/<index:06d>.json   per-image record: prompt, seed, settings, sha256
    results/generate/model.json              the model snapshot (commit) every shard uses
    results/generate/<cls>/shard<k>.csv      the records of one shard (the job's output)
    results/generate/manifest.csv            all records; the data card is built from it

Determinism: image i of class c is generated from the noise seed
`image_seed(base_seed, c, i)` (a CPU `torch.Generator` per image, as diffusers
recommends, so the noise does not depend on the device or on the other images
of the batch), with a prompt and guidance that are functions of (c, i) too
(`synth2real.data.prompts`). File names are the zero-padded index, so the source
manifest's "first N files" is "images 0..N-1": the 500 set is the prefix of
the 1000 set. Batches are cut from the shard start, so a fresh run of the same
config makes the same batches and the same pixels; an image regenerated alone
after an interruption gets the same noise, prompt and guidance (pixels may
differ in the last bit where the accelerator's kernels depend on batch size).

Resume: an image counts as finished only when its record matches the current
settings (`key`) and the file's sha256 matches the record and it decodes.
Anything else (missing, truncated, from other settings, never recorded) is
generated again; finished images are never rewritten. Images the safety
checker blanks out (flagged, or all black) are regenerated with the next
seed `image_seed(..., attempt + 1)`, and the record lists the blanked seeds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from synth2real.config import DiffusersGenerator, Study
from synth2real.data import manifests
from synth2real.data.prompts import ImageAsk, ask_for
from synth2real.errors import Synth2RealError
from synth2real.store import read_json, write_json

if TYPE_CHECKING:
    import torch
    from PIL import Image

log = logging.getLogger(__name__)

META_DIR = ".meta"
MANIFEST_FIELDS = [
    "path", "class", "index", "prompt", "negative_prompt", "seed", "attempt", "blanked_seeds",
    "guidance", "model", "revision", "commit", "scheduler", "steps", "width", "height", "dtype",
    "device", "seconds", "sha256", "created",
]
FETCH_HINT = "make fetch-weights CONFIG=<your config>"


class GenerationError(Synth2RealError):
    """Generation cannot proceed (bad device/dtype, a model folder, an image that stays blanked)."""


class ModelNotCachedError(GenerationError):
    """The generator's weights are neither cached nor downloadable."""


# ------------------------------------------------------------ identities ---


def image_seed(base_seed: int, cls: str, index: int, attempt: int = 0) -> int:
    """The noise seed of image `index` of class `cls` (attempt > 0: after safety blanking).

    A hash, not `base_seed + index`, so classes and attempts never share seeds.
    """
    key = f"synth2real/{base_seed}/{cls}/{index}/{attempt}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "little") >> 1  # < 2**63


def shard_count(gen: DiffusersGenerator, max_size: int) -> int:
    return math.ceil(max_size / gen.shard_size)


def shard_indices(gen: DiffusersGenerator, max_size: int, shard: int) -> range:
    """Image indices of one shard; shard k always starts at k * shard_size."""
    if not 0 <= shard < shard_count(gen, max_size):
        raise GenerationError(f"shard {shard} does not exist ({shard_count(gen, max_size)} shards)")
    start = shard * gen.shard_size
    return range(start, min(start + gen.shard_size, max_size))


def image_path(out_dir: str | Path, cls: str, index: int) -> Path:
    return Path(out_dir) / cls / f"{index:06d}.png"


def record_path(out_dir: str | Path, cls: str, index: int) -> Path:
    # Outside the class folder: the source manifest accepts only images there.
    return Path(out_dir) / META_DIR / cls / f"{index:06d}.json"


# -------------------------------------------------------------- the model --


@dataclass(frozen=True)
class ResolvedModel:
    model_id: str
    revision: str
    commit: str  # the hub snapshot's commit, or "local" for a pipeline folder
    path: str  # folder that `from_pretrained` loads (never touches the network)


def hf_cache() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def hub_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _is_local(model_id: str) -> bool:
    return Path(model_id).expanduser().is_dir() or model_id.startswith(("/", ".", "~"))


def _not_cached(model_id: str, revision: str, why: str) -> ModelNotCachedError:
    return ModelNotCachedError(
        f"Stable Diffusion model {model_id!r} (revision {revision!r}) is not in the Hugging Face "
        f"cache {hf_cache()!r} {why}. Fill the cache with `{FETCH_HINT}` on a machine with "
        "network access (HF_HOME chooses the cache folder; use the same one here), or copy a "
        "filled cache to this machine; see docs/generation.md, 'Weights cache and air-gapped use'."
    )


def _local_model(gen: DiffusersGenerator) -> ResolvedModel:
    path = Path(gen.model_id).expanduser()
    if not (path / "model_index.json").is_file():
        raise GenerationError(
            f"synthetic.source.model_id {gen.model_id!r} is a local path but not a diffusers "
            "pipeline folder (no model_index.json); point it at a `save_pretrained` folder or "
            "use a model id from the hub"
        )
    return ResolvedModel(gen.model_id, gen.revision, "local", str(path.resolve()))


def cached_model(model_id: str, revision: str) -> ResolvedModel | None:
    """The cached snapshot of a hub model at `revision` (branch, tag or commit), or None."""
    from huggingface_hub import try_to_load_from_cache
    from huggingface_hub.errors import HFValidationError

    try:
        found = try_to_load_from_cache(model_id, "model_index.json", revision=revision)
    except HFValidationError as e:
        raise GenerationError(
            f"synthetic.source.model_id {model_id!r} is neither an existing folder nor a valid "
            f"model id on the hub ({e})"
        ) from None
    if not isinstance(found, str):
        return None
    snapshot = Path(found).parent
    return ResolvedModel(model_id, revision, snapshot.name, str(snapshot))


def resolve_model(gen: DiffusersGenerator, download: bool) -> ResolvedModel:
    """Find the generator's weights: a local folder, the HF cache, or (if `download`) the hub.

    Fails at once, naming model, cache and command, when the weights are not
    cached and cannot be downloaded (HF_HUB_OFFLINE=1, or no network).
    """
    if _is_local(gen.model_id):
        return _local_model(gen)
    found = cached_model(gen.model_id, gen.revision)
    if found is not None:
        return found
    if not download:
        raise _not_cached(gen.model_id, gen.revision, "(shards never download)")
    if hub_offline():
        raise _not_cached(gen.model_id, gen.revision, "and HF_HUB_OFFLINE=1 forbids downloading it")
    from diffusers import DiffusionPipeline

    log.info("downloading %s@%s into %s", gen.model_id, gen.revision, hf_cache())
    try:
        snapshot = Path(DiffusionPipeline.download(gen.model_id, revision=gen.revision))
    except Exception as e:  # network and hub errors come in many types
        raise _not_cached(gen.model_id, gen.revision, f"and downloading it failed ({e})") from e
    return ResolvedModel(gen.model_id, gen.revision, snapshot.name, str(snapshot))


def locate_model(info: dict[str, str]) -> ResolvedModel:
    """The model recorded in model.json, found again locally (shards never download)."""
    if info["commit"] == "local":
        path = Path(info["path"])
        if not (path / "model_index.json").is_file():
            raise GenerationError(f"the local pipeline folder {str(path)!r} has disappeared")
        return ResolvedModel(info["model_id"], info["revision"], "local", str(path))
    found = cached_model(info["model_id"], info["commit"])
    if found is None:
        raise _not_cached(info["model_id"], info["commit"], "on this machine (shards never download)")
    return ResolvedModel(info["model_id"], info["revision"], found.commit, found.path)


def write_model_info(cfg: Study, out_json: str) -> None:
    """Step `generator_model`: resolve (and download if allowed) the model once for all shards."""
    gen = _generator(cfg)
    m = resolve_model(gen, download=True)
    from synth2real import provenance

    write_json({"model_id": m.model_id, "revision": m.revision, "commit": m.commit, "path": m.path,
                "hf_cache": hf_cache(), "git_commit": provenance.git_commit(),
                "versions": provenance.versions()}, out_json)
    log.info("generator model %s@%s: commit %s (%s)", m.model_id, m.revision, m.commit, m.path)


def _generator(cfg: Study) -> DiffusersGenerator:
    gen = cfg.synthetic.source
    if not isinstance(gen, DiffusersGenerator):
        raise GenerationError("synthetic.source.kind is not 'diffusers': there is nothing to generate")
    return gen


# ---------------------------------------------------- device and pipeline --


def resolve_dtype(gen: DiffusersGenerator, device_type: str) -> str:
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

    Under SLURM/Kubernetes each job sees only its own GPU. A local run with
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


# ----------------------------------------------------------------- images --


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
    blob = json.dumps({**settings, "class": cls, "index": index, "prompt": ask.prompt,
                       "negative_prompt": ask.negative_prompt, "guidance": ask.guidance,
                       "seed": seed}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _sha256(path: Path) -> str:
    from synth2real.data.sources import sha256_file

    return sha256_file(path)


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
    if _sha256(img) != rec.get("sha256"):
        return "corrupt"
    try:
        manifests.load_image(img)
    except manifests.ImageError:
        return "corrupt"
    return "done"


def is_blank(image: Image.Image) -> bool:
    """The safety checker replaces flagged images with black ones."""
    return int(np.asarray(image).max()) == 0


def plan_batches(jobs: Sequence[Job], batch_size: int) -> list[list[Job]]:
    """Batches in index order; one guidance value per batch (a pipeline call takes one)."""
    groups: dict[float, list[Job]] = {}
    for job in sorted(jobs, key=lambda j: j.index):
        groups.setdefault(job.ask.guidance, []).append(job)
    return [g[i:i + batch_size] for g in groups.values() for i in range(0, len(g), batch_size)]


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


def save_image(image: Image.Image, path: Path) -> str:
    """Write atomically (dot-named temp file, then rename); returns the file's sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    image.save(tmp, format="PNG")
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return _sha256(path)


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


def generate(pipe: Any, gen: DiffusersGenerator, jobs: Sequence[Job], out_dir: str | Path,
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


# ------------------------------------------------------------------ shard --


def _clean_temp_files(out_dir: str | Path, cls: str, indices: range) -> None:
    """Remove temp files a killed job left behind (never finished images)."""
    folder = Path(out_dir) / cls
    if folder.is_dir():
        for i in indices:
            for tmp in folder.glob(f".{i:06d}.png.tmp*"):
                tmp.unlink(missing_ok=True)


def make_shard(cfg: Study, cls: str, shard: int, model: ResolvedModel) -> dict[str, Any]:
    """Make every image of one shard that is not already finished; returns counts.

    Usable without Snakemake: `run_shard` is the workflow's entry point.
    """
    import torch

    gen = _generator(cfg)
    if cls not in cfg.classes:
        raise GenerationError(f"class {cls!r} is not one of classes={cfg.classes}")
    indices = shard_indices(gen, cfg.max_size, shard)
    device_type = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = resolve_dtype(gen, device_type)
    settings = settings_of(gen, model, dtype)
    _clean_temp_files(gen.out_dir, cls, indices)
    jobs, status = [], {"done": 0, "missing": 0, "unrecorded": 0, "stale": 0, "corrupt": 0}
    for i in indices:
        ask = ask_for(gen, cls, i)
        key = image_key(settings, cls, i, ask, image_seed(gen.base_seed, cls, i))
        state = check_image(gen.out_dir, cls, i, key)
        status[state] += 1
        if state != "done":
            jobs.append(Job(cls, i, ask, key, gen.base_seed))
    label = f"{cls} shard {shard}"
    log.info("%s: images %d-%d, %s", label, indices.start, indices.stop - 1,
             ", ".join(f"{v} {k}" for k, v in status.items() if v))
    counts = {"generated": 0, "blanked": 0}
    if jobs:
        with claim_device() as device:
            t0 = time.perf_counter()
            pipe = load_pipeline(model, gen, device, dtype)
            log.info("%s: pipeline loaded on %s (%s) in %.1f s", label, device, dtype,
                     time.perf_counter() - t0)
            name = str(device) + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "")
            counts = generate(pipe, gen, jobs, gen.out_dir, settings, name, label)
    return {**status, **counts}


def shard_records(cfg: Study, cls: str, shard: int) -> list[dict[str, Any]]:
    gen = _generator(cfg)
    records = [read_json(record_path(gen.out_dir, cls, i))
               for i in shard_indices(gen, cfg.max_size, shard)]
    return [{k: r[k] for k in MANIFEST_FIELDS} for r in records]


def run_shard(cfg: Study, cls: str, shard: int, model_json: str, out_csv: str) -> dict[str, Any]:
    """Step `generate_shard`: make the shard's images, then list their records in `out_csv`."""
    model = locate_model(read_json(model_json))
    counts = make_shard(cfg, cls, shard, model)
    manifests.write_csv(out_csv, shard_records(cfg, cls, shard), MANIFEST_FIELDS)
    return counts


def merge_manifest(cfg: Study, shard_csvs: Sequence[str], out_csv: str) -> None:
    """Step `generation_manifest`: every shard's records, in class then index order."""
    gen = _generator(cfg)
    rows = [r for p in shard_csvs for r in manifests.read_csv(p)]
    order = {c: k for k, c in enumerate(cfg.classes)}
    rows.sort(key=lambda r: (order[r["class"]], int(r["index"])))
    for cls in cfg.classes:
        got = [int(r["index"]) for r in rows if r["class"] == cls]
        if got != list(range(cfg.max_size)):
            raise GenerationError(
                f"the shard manifests of class {cls!r} list {len(got)} images, expected indices "
                f"0..{cfg.max_size - 1}; rerun the generation rules (`--forcerun generate_shard`)"
            )
    manifests.write_csv(out_csv, rows, MANIFEST_FIELDS)
    log.info("generation manifest: %d images of %d classes in %s", len(rows), len(cfg.classes),
             gen.out_dir)
