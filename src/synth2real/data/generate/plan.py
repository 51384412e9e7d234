"""Which images a generation run makes and where they go: seeds, shards, file names.

Pure bookkeeping (no torch, no diffusers, no numpy): the workflow imports it
while parsing the Snakefile to plan one job per class x shard.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

from synth2real.config import DiffusersGenerator
from synth2real.errors import Synth2RealError

META_DIR = ".meta"
# The columns of a shard's CSV and of the merged generation manifest.
MANIFEST_FIELDS = [
    "path", "class", "index", "prompt", "negative_prompt", "seed", "attempt", "blanked_seeds",
    "guidance", "model", "revision", "commit", "scheduler", "steps", "width", "height", "dtype",
    "device", "seconds", "sha256", "created",
]


class GenerationError(Synth2RealError):
    """Generation cannot proceed (bad device/dtype, a model folder, an image that stays blanked)."""


def image_seed(base_seed: int, cls: str, index: int, attempt: int = 0) -> int:
    """The noise seed of image `index` of class `cls` (attempt > 0: after safety blanking).

    A hash, not `base_seed + index`, so classes and attempts never share seeds.
    """
    key = f"synth2real/{base_seed}/{cls}/{index}/{attempt}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "little") >> 1  # < 2**63


def shard_count(gen: DiffusersGenerator, max_size: int) -> int:
    """How many shards hold `max_size` images per class."""
    return math.ceil(max_size / gen.shard_size)


def shard_indices(gen: DiffusersGenerator, max_size: int, shard: int) -> range:
    """Image indices of one shard; shard k always starts at k * shard_size."""
    if not 0 <= shard < shard_count(gen, max_size):
        raise GenerationError(f"shard {shard} does not exist ({shard_count(gen, max_size)} shards)")
    start = shard * gen.shard_size
    return range(start, min(start + gen.shard_size, max_size))


def image_path(out_dir: str | Path, cls: str, index: int) -> Path:
    """Where image `index` of class `cls` is written (only once finished)."""
    return Path(out_dir) / cls / f"{index:06d}.png"


def record_path(out_dir: str | Path, cls: str, index: int) -> Path:
    """Where the record (prompt, seed, settings, sha256) of one image is written."""
    # Outside the class folder: the source manifest accepts only images there.
    return Path(out_dir) / META_DIR / cls / f"{index:06d}.json"
