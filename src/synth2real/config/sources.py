"""Where the study's inputs come from: typed, validated source entries of the config.

A source is one `kind` of a tagged union: generated or folder images for the
synthetic set, a torchvision dataset or a folder for the real photos, torchvision
or a local checked file for the backbone weights.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from synth2real.config.base import Strict


class FolderImages(Strict):
    """Images already on disk, one sub-folder per class (`<root>/<class>/*`)."""

    kind: Literal["folder"]
    root: str = Field(description="folder holding one sub-folder per class")


class DiffusersGenerator(Strict):
    """Text-to-image generation with a diffusers Stable Diffusion pipeline.

    See `synth2real.data.generate` for how these settings become images and
    `synth2real.data.prompts` for the prompt sets.
    """

    kind: Literal["diffusers"]
    # A model id on the hub (cached in HF_HOME) or a local pipeline folder.
    model_id: str = "stable-diffusion-v1-5/stable-diffusion-v1-5"
    revision: str = "main"
    # "plain": `prompts[cls]` (cycled over images) or `prompt_template`;
    # "diverse": background x lighting x viewpoint x style drawn per image.
    prompt_set: Literal["plain", "diverse"] = "plain"
    prompts: dict[str, list[str]] | None = None
    prompt_template: str = "a photo of a {cls}"
    negative_prompt: str | None = None
    guidance_scale: float = Field(7.5, gt=0)
    # Per-image guidance drawn from [lo, hi] on a grid of `guidance_step`
    # (a grid, so images sharing a value batch together); None = guidance_scale.
    guidance_range: tuple[float, float] | None = None
    guidance_step: float = Field(0.5, gt=0)
    steps: int = Field(25, ge=1)
    scheduler: Literal["dpm-multistep", "default"] = "dpm-multistep"
    resolution: int = Field(512, ge=64, multiple_of=8)
    batch_size: int = Field(8, ge=1)
    dtype: Literal["auto", "float16", "float32"] = "auto"
    base_seed: int = 0
    shard_size: int = Field(100, ge=1)
    # Seeds tried per image when the safety checker blanks it out, before failing.
    max_attempts: int = Field(5, ge=1)
    # torch.compile the UNet (CUDA only; pays off on shards of hundreds of images).
    compile: bool = False
    out_dir: str = "data/synthetic"

    @model_validator(mode="after")
    def _prompt_settings(self) -> DiffusersGenerator:
        if "{cls}" not in self.prompt_template:
            raise ValueError(
                f"prompt_template must contain {{cls}} (the class name), got {self.prompt_template!r}"
            )
        if self.prompts is not None and self.prompt_set != "plain":
            raise ValueError("prompts (explicit per-class prompts) needs prompt_set: plain")
        if self.prompts is not None and any(not v for v in self.prompts.values()):
            raise ValueError("prompts: every listed class needs at least one prompt")
        if self.guidance_range is not None:
            lo, hi = self.guidance_range
            if not 0 < lo <= hi:
                raise ValueError(f"guidance_range must be [lo, hi] with 0 < lo <= hi, got {[lo, hi]}")
        return self


SourceImages = Annotated[FolderImages | DiffusersGenerator, Field(discriminator="kind")]


class TorchvisionReal(Strict):
    """A torchvision dataset (downloaded once, then written out as image files)."""

    kind: Literal["cifar10", "stl10"]
    download_dir: str = "data/downloads"
    # The extracted image folders live here (one per dataset and split).
    extract_dir: str = "data/real"


class FolderReal(Strict):
    """Real photos in class sub-folders; test set and pool are carved from it."""

    kind: Literal["folder"]
    root: str


RealSource = Annotated[TorchvisionReal | FolderReal, Field(discriminator="kind")]


class TorchvisionWeights(Strict):
    """torchvision's `MobileNet_V2_Weights.IMAGENET1K_V1` (downloaded to TORCH_HOME)."""

    kind: Literal["torchvision"]
    name: str = "IMAGENET1K_V1"


class PathWeights(Strict):
    """A local torchvision-format state_dict, verified by sha256."""

    kind: Literal["path"]
    path: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


WeightsSource = Annotated[TorchvisionWeights | PathWeights, Field(discriminator="kind")]

