"""What each generated image is asked for: prompts (plain, diverse) and guidance."""

from __future__ import annotations

from synth2real.config import DiffusersGenerator
from synth2real.data import prompts


def gen(**kw: object) -> DiffusersGenerator:
    return DiffusersGenerator(kind="diffusers", **kw)


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
