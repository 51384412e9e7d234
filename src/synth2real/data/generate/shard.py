"""One shard (class x index range) made and listed, and all shards merged into one manifest.

`run_shard` and `merge_manifest` are the stages `generate_shard` and
`generation_manifest`; `make_shard` does a shard's work without Snakemake.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from synth2real.config import DiffusersGenerator
from synth2real.data.generate.images import (
    Job,
    check_image,
    generate_images,
    image_key,
    settings_of,
)
from synth2real.data.generate.pipeline import claim_device, load_pipeline, resolve_dtype
from synth2real.data.generate.plan import (
    MANIFEST_FIELDS,
    GenerationError,
    image_seed,
    record_path,
)
from synth2real.data.generate.weights import ResolvedModel, locate_model
from synth2real.data.manifests import read_csv, write_csv
from synth2real.data.prompts import ask_for
from synth2real.store import read_json

log = logging.getLogger(__name__)


def _clean_temp_files(out_dir: str | Path, cls: str, indices: range) -> None:
    """Remove temp files a killed job left behind (never finished images)."""
    folder = Path(out_dir) / cls
    if folder.is_dir():
        for i in indices:
            for tmp in folder.glob(f".{i:06d}.png.tmp*"):
                tmp.unlink(missing_ok=True)


def make_shard(gen: DiffusersGenerator, cls: str, indices: range,
               model: ResolvedModel) -> dict[str, Any]:
    """Make every image `indices` of class `cls` that is not already finished; returns counts."""
    import torch

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
    label = f"{cls} shard {indices.start // gen.shard_size}"
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
            counts = generate_images(pipe, gen, jobs, gen.out_dir, settings, name, label)
    return {**status, **counts}


def shard_records(gen: DiffusersGenerator, cls: str, indices: range) -> list[dict[str, Any]]:
    """The manifest rows of a finished shard, read from its per-image records."""
    records = [read_json(record_path(gen.out_dir, cls, i)) for i in indices]
    return [{k: r[k] for k in MANIFEST_FIELDS} for r in records]


def run_shard(model: str, csv: str, *, cls: str, generator: DiffusersGenerator,
              indices: range) -> dict[str, Any]:
    """Stage `generate_shard`: make the shard's images, then list their records in `csv`.

    `model` is the file `write_model_info` wrote; `indices` comes from `plan.shard_indices`.
    """
    counts = make_shard(generator, cls, indices, locate_model(model))
    write_csv(csv, shard_records(generator, cls, indices), MANIFEST_FIELDS)
    return counts


def merge_manifest(shards: Sequence[str], csv: str, *, classes: list[str],
                   sizes: list[int]) -> None:
    """Stage `generation_manifest`: every shard's records, in class then index order.

    Fails, naming the class, unless each class lists exactly images 0..max(sizes)-1.
    """
    max_size = max(sizes)
    rows = [r for p in shards for r in read_csv(p)]
    order = {c: k for k, c in enumerate(classes)}
    rows.sort(key=lambda r: (order[r["class"]], int(r["index"])))
    for cls in classes:
        got = [int(r["index"]) for r in rows if r["class"] == cls]
        if got != list(range(max_size)):
            raise GenerationError(
                f"the shard manifests of class {cls!r} list {len(got)} images, expected indices "
                f"0..{max_size - 1}; rerun the generation rules (`--forcerun generate_shard`)"
            )
    write_csv(csv, rows, MANIFEST_FIELDS)
    log.info("generation manifest: %d images of %d classes from %d shards", len(rows), len(classes),
             len(shards))
