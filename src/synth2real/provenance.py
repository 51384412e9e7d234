"""Provenance written next to every model and result: config, commit, versions."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from synth2real.config import Study
from synth2real.store import write_json

# The config a product depends on: the whole study, or the sections its rule declared.
Config = BaseModel | Mapping[str, Any]

PACKAGES = ["synth2real", "torch", "torchvision", "onnxruntime", "onnx", "numpy", "pillow",
            "snakemake", "diffusers", "gradio", "scikit-learn", "matplotlib"]


def git_commit() -> str:
    """The checkout's commit, '+dirty' when tracked files differ, 'unknown' outside git."""
    try:
        here = Path(__file__).resolve().parent
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, check=True).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        # The container has no .git; its build records the commit instead.
        return os.environ.get("SYNTH2REAL_GIT_COMMIT", "unknown")


def versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def hardware() -> dict[str, object]:
    """CPU model, logical cores, memory and visible CUDA GPUs of the machine running the step."""
    cpu = platform.processor() or None
    mem_gb = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = int(line.split()[1]) / 1024**2
                break
    except OSError:
        pass
    gpus: list[str] = []
    try:
        import torch

        if torch.cuda.is_available():
            gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except ImportError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": mem_gb, "gpus": gpus}


def dump(cfg: Config) -> dict[str, Any]:
    """`cfg` as plain JSON values (each section of a mapping dumped on its own)."""
    if isinstance(cfg, BaseModel):
        return cfg.model_dump(mode="json")
    return {k: v.model_dump(mode="json") if isinstance(v, BaseModel) else v for k, v in cfg.items()}


def config_hash(cfg: Config) -> str:
    blob = json.dumps(dump(cfg), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def record(cfg: Config, **extra: object) -> dict[str, object]:
    return {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "config_hash": config_hash(cfg),
        "platform": platform.platform(),
        "versions": versions(),
        "hardware": hardware(),
        **extra,
        "config": dump(cfg),
    }


def write(path: str | Path, cfg: Config, **extra: object) -> None:
    write_json(record(cfg, **extra), path)


def write_run(provenance: str, *, study: Study) -> None:
    """Stage `run_provenance`: the whole resolved config of the run, its commit, versions and
    hardware (the one product that depends on every config key)."""
    write(provenance, study)
