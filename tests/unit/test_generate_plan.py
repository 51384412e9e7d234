"""Generation bookkeeping without a pipeline: seeds, shards, prompts, guidance, batches, data card."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from synth2real import config
from synth2real.config import DiffusersGenerator
from synth2real.data import card as data_card
from synth2real.data import generate, prompts
from synth2real.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def gen(**kw: object) -> DiffusersGenerator:
    return DiffusersGenerator(kind="diffusers", **kw)


def test_seeds_are_stable_and_distinct_per_class_index_attempt():
    seeds = {generate.image_seed(0, c, i, a) for c in ("dog", "cat") for i in range(500)
             for a in range(3)}
    assert len(seeds) == 2 * 500 * 3
    assert all(0 <= s < 2**63 for s in seeds)
    assert generate.image_seed(0, "dog", 7) == generate.image_seed(0, "dog", 7)
    assert generate.image_seed(0, "dog", 7) != generate.image_seed(1, "dog", 7)


def test_shards_tile_the_indices_and_start_at_fixed_offsets():
    g = gen(shard_size=100)
    assert generate.shard_count(g, 1000) == 10 and generate.shard_count(g, 550) == 6
    tiles = [i for k in range(generate.shard_count(g, 550)) for i in generate.shard_indices(g, 550, k)]
    assert tiles == list(range(550))
    # The 500 set's shards are the 1000 set's first shards, unchanged.
    for k in range(5):
        assert generate.shard_indices(g, 500, k) == generate.shard_indices(g, 1000, k)
    with pytest.raises(generate.GenerationError, match="shard 6 does not exist"):
        generate.shard_indices(g, 550, 6)


def test_plain_prompts_template_and_per_class_lists():
    assert prompts.prompt_for(gen(), "dog", 3) == "a photo of a dog"
    g = gen(prompts={"dog": ["a dog on a sofa", "a {cls} outside"]})
    assert [prompts.prompt_for(g, "dog", i) for i in range(3)] == [
        "a dog on a sofa", "a dog outside", "a dog on a sofa"]
    assert prompts.prompt_for(g, "cat", 0) == "a photo of a cat"  # unlisted class: the template


def test_diverse_prompts_vary_all_axes_and_are_a_function_of_the_index():
    g = gen(prompt_set="diverse")
    ps = [prompts.prompt_for(g, "bird", i) for i in range(300)]
    assert ps == [prompts.prompt_for(g, "bird", i) for i in range(300)]
    assert all(" of a bird, " in p for p in ps)
    for axis in (prompts.STYLES, prompts.VIEWPOINTS, prompts.BACKGROUNDS, prompts.LIGHTING):
        used = {v for v in axis if any(v in p for p in ps)}
        assert used == set(axis)
    assert len(set(ps)) > 200
    # Another base seed draws other combinations.
    assert ps != [prompts.prompt_for(gen(prompt_set="diverse", base_seed=1), "bird", i)
                  for i in range(300)]


def test_guidance_range_draws_grid_values_per_image():
    assert prompts.guidance_for(gen(guidance_scale=6.0), "dog", 0) == 6.0
    g = gen(guidance_range=(3.0, 9.0), guidance_step=1.5)
    values = [prompts.guidance_for(g, "dog", i) for i in range(200)]
    assert set(values) == {3.0, 4.5, 6.0, 7.5, 9.0}
    assert values == [prompts.guidance_for(g, "dog", i) for i in range(200)]


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


def _job(index: int, guidance: float) -> generate.Job:
    return generate.Job("dog", index, prompts.ImageAsk("p", None, guidance), "k", 0)


def test_batches_keep_index_order_and_one_guidance_each():
    jobs = [_job(i, g) for i, g in enumerate([7.5, 7.5, 5.0, 7.5, 5.0, 7.5, 7.5])]
    batches = generate.plan_batches(jobs[::-1], 2)
    assert [[j.index for j in b] for b in batches] == [[0, 1], [3, 5], [6], [2, 4]]
    assert all(len({j.ask.guidance for j in b}) == 1 for b in batches)


def test_blank_detection():
    assert generate.is_blank(Image.new("RGB", (8, 8)))
    img = np.zeros((8, 8, 3), np.uint8)
    img[3, 4, 1] = 1
    assert not generate.is_blank(Image.fromarray(img))


def _manifest_row(cls: str, i: int, guidance: float, blanked: str = "") -> dict[str, str]:
    return {"class": cls, "index": str(i), "prompt": f"a photo of a {cls}", "guidance": str(guidance),
            "blanked_seeds": blanked, "seconds": "0.5", "model": "m/sd", "revision": "main",
            "commit": "abc123def4567890", "scheduler": "dpm-multistep", "steps": "25",
            "width": "512", "height": "512", "dtype": "float16", "negative_prompt": "",
            "device": "cuda:0"}


def test_data_card_counts_and_formats():
    raw = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    cfg = config.load(raw)
    rows = [_manifest_row("dog", i, 7.5) for i in range(4)]
    rows += [_manifest_row("cat", i, 3.0 + i, "11 22" if i == 1 else "") for i in range(3)]
    table = data_card.class_rows(rows, ["dog", "cat"])
    assert [r["class"] for r in table] == ["dog", "cat", "all"]
    assert [r["images"] for r in table] == [4, 3, 7]
    assert [r["safety_retries"] for r in table] == [0, 2, 2]
    assert (table[1]["guidance_min"], table[1]["guidance_max"]) == (3.0, 5.0)
    md = data_card.to_markdown(cfg, table)
    assert "| dog | 4 | 1 | 7.5 | 0 |" in md
    assert "commit abc123def456" in md and "dpm-multistep, 25 steps" in md
    tex = data_card.to_latex(cfg, table)
    assert r"\begin{tabular}" in tex and "3-5 per image" in tex and "dpm-multistep" in tex
    csv_text = data_card.to_csv(table)
    assert csv_text.splitlines()[0].split(",") == data_card.CSV_FIELDS
    assert len(csv_text.splitlines()) == 4


def test_concurrent_jobs_claim_different_gpus(monkeypatch, tmp_path):
    """Several visible GPUs (a local run): each job holds its own, by lock file."""
    import tempfile

    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    with generate.claim_device() as first, generate.claim_device() as second:
        assert {str(first), str(second)} == {"cuda:0", "cuda:1"}
    locks = sorted(p.name for p in next(tmp_path.glob("synth2real-gpu-locks-*")).iterdir())
    assert locks == ["gpu-3.lock", "gpu-5.lock"]
    with generate.claim_device() as again:  # released at the end of the job
        assert str(again) == "cuda:0"


def test_float16_without_gpu_is_refused():
    with pytest.raises(generate.GenerationError, match="float16 needs a CUDA GPU"):
        generate.resolve_dtype(gen(dtype="float16"), "cpu")
    assert generate.resolve_dtype(gen(), "cpu") == "float32"
    assert generate.resolve_dtype(gen(), "cuda") == "float16"
