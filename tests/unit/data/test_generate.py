"""Generation bookkeeping without a pipeline: seeds, shards, settings, batches, devices."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from PIL import Image

from synth2real import config
from synth2real.config import DiffusersGenerator
from synth2real.data import prompts
from synth2real.data.generate import images, pipeline, plan
from synth2real.errors import ConfigError
from tests.conftest import REPO


def gen(**kw: object) -> DiffusersGenerator:
    return DiffusersGenerator(kind="diffusers", **kw)


def test_seeds_are_stable_and_distinct_per_class_index_attempt():
    seeds = {plan.image_seed(0, c, i, a) for c in ("dog", "cat") for i in range(500)
             for a in range(3)}
    assert len(seeds) == 2 * 500 * 3
    assert all(0 <= s < 2**63 for s in seeds)
    assert plan.image_seed(0, "dog", 7) == plan.image_seed(0, "dog", 7)
    assert plan.image_seed(0, "dog", 7) != plan.image_seed(1, "dog", 7)


def test_shards_tile_the_indices_and_start_at_fixed_offsets():
    g = gen(shard_size=100)
    assert plan.shard_count(g, 1000) == 10 and plan.shard_count(g, 550) == 6
    tiles = [i for k in range(plan.shard_count(g, 550)) for i in plan.shard_indices(g, 550, k)]
    assert tiles == list(range(550))
    # The 500 set's shards are the 1000 set's first shards, unchanged.
    for k in range(5):
        assert plan.shard_indices(g, 500, k) == plan.shard_indices(g, 1000, k)
    with pytest.raises(plan.GenerationError, match="shard 6 does not exist"):
        plan.shard_indices(g, 550, 6)


@pytest.mark.parametrize("bad, message", [
    ({"prompt_template": "a photo"}, "must contain {cls}"),
    ({"prompt_set": "diverse", "prompts": {"dog": ["x"]}}, "needs prompt_set: plain"),
    ({"guidance_range": [8.0, 3.0]}, "0 < lo <= hi"),
    ({"prompt_set": "fancy"}, "prompt_set"),
    ({"resolution": 500}, "resolution"),
])
def test_bad_generator_settings_are_named(bad, message):
    raw = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    raw["synthetic"]["source"].update(bad)
    with pytest.raises(ConfigError, match=message):
        config.load(raw)


def test_paper_config_documents_every_generator_key():
    text = (REPO / "config" / "paper.yaml").read_text()
    block = text[text.index("kind: diffusers"):text.index("  sizes:")]
    for key in DiffusersGenerator.model_fields:
        assert f"\n    {key}:" in "\n    " + block, f"synthetic.source.{key} missing in paper.yaml"


def _job(index: int, guidance: float) -> images.Job:
    return images.Job("dog", index, prompts.ImageAsk("p", None, guidance), "k", 0)


def test_batches_keep_index_order_and_one_guidance_each():
    jobs = [_job(i, g) for i, g in enumerate([7.5, 7.5, 5.0, 7.5, 5.0, 7.5, 7.5])]
    batches = images.plan_batches(jobs[::-1], 2)
    assert [[j.index for j in b] for b in batches] == [[0, 1], [3, 5], [6], [2, 4]]
    assert all(len({j.ask.guidance for j in b}) == 1 for b in batches)


def test_blank_detection():
    assert pipeline.is_blank(Image.new("RGB", (8, 8)))
    img = np.zeros((8, 8, 3), np.uint8)
    img[3, 4, 1] = 1
    assert not pipeline.is_blank(Image.fromarray(img))


def test_concurrent_jobs_claim_different_gpus(monkeypatch, tmp_path):
    """Several visible GPUs (a local run): each job holds its own, by lock file."""
    import tempfile

    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    with pipeline.claim_device() as first, pipeline.claim_device() as second:
        assert {str(first), str(second)} == {"cuda:0", "cuda:1"}
    locks = sorted(p.name for p in next(tmp_path.glob("synth2real-gpu-locks-*")).iterdir())
    assert locks == ["gpu-3.lock", "gpu-5.lock"]
    with pipeline.claim_device() as again:  # released at the end of the job
        assert str(again) == "cuda:0"


def test_float16_without_gpu_is_refused():
    with pytest.raises(plan.GenerationError, match="float16 needs a CUDA GPU"):
        pipeline.resolve_dtype(gen(dtype="float16"), "cpu")
    assert pipeline.resolve_dtype(gen(), "cpu") == "float32"
    assert pipeline.resolve_dtype(gen(), "cuda") == "float16"
