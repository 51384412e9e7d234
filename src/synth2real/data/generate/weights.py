"""The generator's weights: a local pipeline folder, the Hugging Face cache, or a download.

Resolved once for all shards (stage `generator_model`), recorded in a json
file; every shard then finds exactly that snapshot again and never downloads.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from synth2real import provenance
from synth2real.data.generate.plan import GenerationError
from synth2real.store import read_json, write_json

log = logging.getLogger(__name__)

FETCH_HINT = "make fetch-weights CONFIG=<your config>"


class ModelNotCachedError(GenerationError):
    """The generator's weights are neither cached nor downloadable."""


@dataclass(frozen=True)
class ResolvedModel:
    model_id: str
    revision: str
    commit: str  # the hub snapshot's commit, or "local" for a pipeline folder
    path: str  # folder that `from_pretrained` loads (never touches the network)


def hf_cache() -> str:
    """The Hugging Face hub cache folder in use (HF_HOME / HF_HUB_CACHE)."""
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


def _local_model(model_id: str, revision: str) -> ResolvedModel:
    path = Path(model_id).expanduser()
    if not (path / "model_index.json").is_file():
        raise GenerationError(
            f"synthetic.source.model_id {model_id!r} is a local path but not a diffusers "
            "pipeline folder (no model_index.json); point it at a `save_pretrained` folder or "
            "use a model id from the hub"
        )
    return ResolvedModel(model_id, revision, "local", str(path.resolve()))


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


def resolve_model(model_id: str, revision: str, download: bool) -> ResolvedModel:
    """Find the generator's weights: a local folder, the HF cache, or (if `download`) the hub.

    Fails at once, naming model, cache and command, when the weights are not
    cached and cannot be downloaded (HF_HUB_OFFLINE=1, or no network).
    """
    if _is_local(model_id):
        return _local_model(model_id, revision)
    found = cached_model(model_id, revision)
    if found is not None:
        return found
    if not download:
        raise _not_cached(model_id, revision, "(shards never download)")
    if hub_offline():
        raise _not_cached(model_id, revision, "and HF_HUB_OFFLINE=1 forbids downloading it")
    from diffusers import DiffusionPipeline

    log.info("downloading %s@%s into %s", model_id, revision, hf_cache())
    try:
        snapshot = Path(DiffusionPipeline.download(model_id, revision=revision))
    except Exception as e:  # network and hub errors come in many types
        raise _not_cached(model_id, revision, f"and downloading it failed ({e})") from e
    return ResolvedModel(model_id, revision, snapshot.name, str(snapshot))


def locate_model(model_json: str | Path) -> ResolvedModel:
    """The model recorded by `write_model_info`, found again locally (shards never download)."""
    info = read_json(model_json)
    if info["commit"] == "local":
        path = Path(info["path"])
        if not (path / "model_index.json").is_file():
            raise GenerationError(f"the local pipeline folder {str(path)!r} has disappeared")
        return ResolvedModel(info["model_id"], info["revision"], "local", str(path))
    found = cached_model(info["model_id"], info["commit"])
    if found is None:
        raise _not_cached(info["model_id"], info["commit"], "on this machine (shards never download)")
    return ResolvedModel(info["model_id"], info["revision"], found.commit, found.path)


def write_model_info(info: str, *, model_id: str, revision: str) -> None:
    """Stage `generator_model`: resolve (and download if allowed) the model once for all shards."""
    m = resolve_model(model_id, revision, download=True)
    write_json({"model_id": m.model_id, "revision": m.revision, "commit": m.commit, "path": m.path,
                "hf_cache": hf_cache(), "git_commit": provenance.git_commit(),
                "versions": provenance.versions()}, info)
    log.info("generator model %s@%s: commit %s (%s)", m.model_id, m.revision, m.commit, m.path)
