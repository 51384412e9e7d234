"""What each generated image is asked for: its prompt and guidance scale.

Both are pure functions of (generator config, class, image index), like the
noise seed, so the 500 set is a prefix of the 1000 set for prompts and
guidance too, and a resumed run asks for exactly what the first run asked for.

Prompt sets:

- ``plain``: the per-class list ``prompts[cls]`` cycled over the images
  (image i gets prompt ``i mod len``), or ``prompt_template`` for every image.
- ``diverse``: domain randomisation of the generator, the literature's
  strongest lever for synthetic-to-real accuracy: each image draws a photo
  style, a viewpoint, a background and a lighting condition (the lists below),
  e.g. "a film photograph of a dog, seen from above, on a beach, at golden hour".

Guidance: ``guidance_scale`` for every image, or, with ``guidance_range``, a
value drawn per image from the grid lo, lo + step, ..., hi.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from synth2real.config import DiffusersGenerator

# The named "diverse" set: four independent axes of variation, one draw each per image.
STYLES = (
    "a photo",
    "a DSLR photo",
    "a snapshot taken with a phone",
    "a film photograph",
    "a black and white photo",
    "a slightly blurry amateur photo",
)
VIEWPOINTS = (
    "close-up",
    "full body shot",
    "seen from the side",
    "seen from above",
    "seen from a low angle",
    "seen from a distance",
)
BACKGROUNDS = (
    "in a living room",
    "on a grassy lawn",
    "on a city street",
    "in a forest",
    "on a beach",
    "in the snow",
    "in front of a plain wall",
    "in a park",
)
LIGHTING = (
    "in soft morning light",
    "at golden hour",
    "under an overcast sky",
    "in harsh midday sun",
    "in dim indoor light",
    "at night under street lights",
)
DIVERSE_TEMPLATE = "{style} of a {cls}, {viewpoint}, {background}, {lighting}"


@dataclass(frozen=True)
class ImageAsk:
    """What one image is generated from (everything but the noise seed)."""

    prompt: str
    negative_prompt: str | None
    guidance: float


def _rng(gen: DiffusersGenerator, cls: str, index: int, stream: str) -> np.random.Generator:
    """A generator for one (class, image, purpose), independent of every other image."""
    key = f"synth2real/{gen.base_seed}/{cls}/{index}/{stream}".encode()
    return np.random.default_rng(int.from_bytes(hashlib.sha256(key).digest()[:8], "little"))


def prompt_for(gen: DiffusersGenerator, cls: str, index: int) -> str:
    if gen.prompt_set == "diverse":
        rng = _rng(gen, cls, index, "prompt")
        # One draw per axis, in a fixed order.
        parts = {axis: values[int(rng.integers(len(values)))] for axis, values in
                 (("style", STYLES), ("viewpoint", VIEWPOINTS), ("background", BACKGROUNDS),
                  ("lighting", LIGHTING))}
        return DIVERSE_TEMPLATE.format(cls=cls, **parts)
    if gen.prompts is not None and cls in gen.prompts:
        options = gen.prompts[cls]
        return options[index % len(options)].replace("{cls}", cls)
    return gen.prompt_template.replace("{cls}", cls)


def guidance_for(gen: DiffusersGenerator, cls: str, index: int) -> float:
    if gen.guidance_range is None:
        return float(gen.guidance_scale)
    lo, hi = gen.guidance_range
    n = int(np.floor((hi - lo) / gen.guidance_step + 1e-9))
    k = int(_rng(gen, cls, index, "guidance").integers(n + 1))
    # Rounded so the value recorded in the manifest is the value used.
    return round(lo + k * gen.guidance_step, 6)


def ask_for(gen: DiffusersGenerator, cls: str, index: int) -> ImageAsk:
    return ImageAsk(prompt_for(gen, cls, index), gen.negative_prompt, guidance_for(gen, cls, index))


def describe(gen: DiffusersGenerator) -> str:
    """One line for the data card: which prompts the images were generated from."""
    if gen.prompt_set == "diverse":
        n = len(STYLES) * len(VIEWPOINTS) * len(BACKGROUNDS) * len(LIGHTING)
        return (f"diverse: \"{DIVERSE_TEMPLATE}\" ({len(STYLES)} styles x {len(VIEWPOINTS)} "
                f"viewpoints x {len(BACKGROUNDS)} backgrounds x {len(LIGHTING)} lightings = "
                f"{n} prompts per class)")
    if gen.prompts:
        return "plain: per-class prompt lists, cycled over images"
    return f"plain: \"{gen.prompt_template}\""
