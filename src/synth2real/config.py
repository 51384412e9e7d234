"""The one typed study configuration, validated before any work starts.

Every setting of the published study (DESIGN.md §1) is a key here with the
published value as its default; what the study left unstated (image size,
epochs, batch size, seeds, sources, pool size) is a documented choice. Config
files (`config/paper.yaml`, `config/offline.yaml`) only override defaults.

Paths may contain `{bundle}`, replaced by the top-level `bundle` key (the
offline input folder, set with `make ... BUNDLE=<dir>` or
`snakemake --config bundle=<dir>`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from synth2real.errors import ConfigError

VARIANT_SYNTHETIC = "synthetic-{size}"
VARIANT_PSEUDO = "pseudo-label"


class _Strict(BaseModel):
    # Unknown keys are typos until proven otherwise: reject them by name.
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- sources --


class FolderImages(_Strict):
    """Images already on disk, one sub-folder per class (`<root>/<class>/*`)."""

    kind: Literal["folder"]
    root: str = Field(description="folder holding one sub-folder per class")


class DiffusersGenerator(_Strict):
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


class TorchvisionReal(_Strict):
    """A torchvision dataset (downloaded once, then written out as image files)."""

    kind: Literal["cifar10", "stl10"]
    download_dir: str = "data/downloads"
    # The extracted image folders live here (one per dataset and split).
    extract_dir: str = "data/real"


class FolderReal(_Strict):
    """Real photos in class sub-folders; test set and pool are carved from it."""

    kind: Literal["folder"]
    root: str


RealSource = Annotated[TorchvisionReal | FolderReal, Field(discriminator="kind")]


class TorchvisionWeights(_Strict):
    """torchvision's `MobileNet_V2_Weights.IMAGENET1K_V1` (downloaded to TORCH_HOME)."""

    kind: Literal["torchvision"]
    name: str = "IMAGENET1K_V1"


class PathWeights(_Strict):
    """A local torchvision-format state_dict, verified by sha256."""

    kind: Literal["path"]
    path: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


WeightsSource = Annotated[TorchvisionWeights | PathWeights, Field(discriminator="kind")]


# ---------------------------------------------------------------- study ----


class SyntheticData(_Strict):
    source: SourceImages
    # Per-class set sizes; each smaller set is a prefix of the larger ones.
    sizes: list[int] = Field(default=[500, 1000], min_length=1)
    val_fraction: float = Field(0.2, gt=0, lt=1)

    @model_validator(mode="after")
    def _sizes_sorted(self) -> SyntheticData:
        if any(s < 5 for s in self.sizes) or sorted(set(self.sizes)) != self.sizes:
            raise ValueError(
                f"synthetic.sizes must be distinct, ascending and >= 5, got {self.sizes}"
            )
        return self


class RealData(_Strict):
    source: RealSource
    # Labeled real test images per class.
    test_per_class: int = Field(800, ge=1)
    # Unlabeled pool: `pool_size` images, `ood_fraction` of them from other classes.
    pool_size: int = Field(1500, ge=1)
    ood_fraction: float = Field(0.1, ge=0, lt=1)


class Backbone(_Strict):
    arch: Literal["mobilenet_v2"] = "mobilenet_v2"
    weights: WeightsSource
    image_size: int = Field(224, ge=32)


class Features(_Strict):
    # onnxruntime is ~10x faster than eager torch on CPU (see `make bench`);
    # the export is parity-checked before any feature is written.
    engine: Literal["onnxruntime", "torch"] = "onnxruntime"
    batch_size: int = Field(32, ge=1)
    parity_tol: float = Field(1e-4, gt=0)


class Train(_Strict):
    optimizer: Literal["adam"] = "adam"
    lr: float = Field(1e-3, gt=0)
    step_size: int = Field(7, ge=1)
    gamma: float = Field(0.1, gt=0, le=1)
    epochs: int = Field(25, ge=1)
    batch_size: int = Field(32, ge=1)
    # torchvision's MobileNetV2 classifier is Dropout(0.2) + Linear: keep both.
    dropout: float = Field(0.2, ge=0, lt=1)


class PseudoLabel(_Strict):
    threshold: float = Field(0.51, gt=0, lt=1)
    # Which baseline labels the pool (a synthetic size from synthetic.sizes).
    source_size: int = 1000


class Balanced(_Strict):
    # Per predicted class keep at most share * pool / C images, most confident first.
    share: float = Field(0.5, gt=0, le=1)


class SelfTraining(_Strict):
    # Rounds of (label the pool, retrain a fresh head from the synthetic start).
    rounds: int = Field(3, ge=1, le=10)
    # How the reported round is chosen (never test labels): synthetic val accuracy,
    # or the lowest mean prediction entropy on the unlabeled pool.
    select_by: Literal["val_acc", "pool_entropy"] = "val_acc"


class OodRejection(_Strict):
    # Out-of-domain score of a pool image under the source model (higher = less like any class).
    score: Literal["energy", "entropy"] = "energy"
    # Share of the pool with the highest score dropped before pseudo-labeling.
    reject_share: float = Field(0.2, ge=0, lt=1)


class AdaBN(_Strict):
    # Unlabeled pool images used to re-estimate the BatchNorm statistics (torch, train-mode BN).
    images: int = Field(512, ge=2)
    batch_size: int = Field(64, ge=2)


class Align(_Strict):
    # Target shorter side in px; null = measured: median over the unlabeled pool.
    target_side: int | None = Field(None, ge=8)


class Mixing(_Strict):
    # Synthetic images per pseudo-labeled real image in each minibatch (1:1, 1:7, 1:15).
    ratios: list[int] = Field(default=[1, 7, 15], min_length=1)


class Dann(_Strict):
    bottleneck: int = Field(256, ge=2)
    # Width of the domain classifier's hidden layer.
    hidden: int = Field(256, ge=2)
    epochs: int = Field(25, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    # Final weight of the reversed domain gradient, and the steepness of its ramp.
    domain_weight: float = Field(1.0, ge=0)
    ramp_gamma: float = Field(10.0, gt=0)


# Method families of issue 5; each expands to one or more variants (see methods.py).
METHOD_KEYS = ("threshold-sweep", "balanced", "self-training", "ood-rejection", "adabn",
               "adabn+pl", "dann", "align", "align+pl", "align+balanced", "align+dann",
               "align+adabn", "align+adabn+pl", "align+adabn+balanced", "align+adabn+dann",
               "mixing")


class Methods(_Strict):
    """Adaptation methods beyond the study, each a variant over all seeds (issue 5)."""

    # Which method families run; [] runs the published three variants only. The
    # default leaves out align+adabn+dann (AdaBN adds nothing to align+dann here:
    # the bundle's BN statistics already come from CIFAR-10) to save a DANN job.
    enabled: list[Literal[METHOD_KEYS]] = Field(  # type: ignore[valid-type]
        default=[k for k in METHOD_KEYS if k != "align+adabn+dann"])
    thresholds: list[float] = Field(default=[0.51, 0.7, 0.8, 0.9, 0.95], min_length=1)
    balanced: Balanced = Balanced()
    self_training: SelfTraining = SelfTraining()
    ood: OodRejection = OodRejection()
    adabn: AdaBN = AdaBN()
    align: Align = Align()
    mixing: Mixing = Mixing()
    dann: Dann = Dann()
    # Source/target samples per domain for the proxy A-distance and the t-SNE figure.
    domain_sample: int = Field(1000, ge=10)

    @model_validator(mode="after")
    def _checks(self) -> Methods:
        if any(not 0 < t < 1 for t in self.thresholds) or len(set(self.thresholds)) != len(self.thresholds):
            raise ValueError(f"methods.thresholds must be distinct and in (0, 1), got {self.thresholds}")
        if any(r < 1 for r in self.mixing.ratios) or len(set(self.mixing.ratios)) != len(self.mixing.ratios):
            raise ValueError(f"methods.mixing.ratios must be distinct and >= 1, got {self.mixing.ratios}")
        if len(set(self.enabled)) != len(self.enabled):
            raise ValueError(f"methods.enabled has duplicates: {self.enabled}")
        return self


class Export(_Strict):
    # The seed whose baseline and adapted models are exported to ONNX.
    seed: int = 0
    opset: int = Field(18, ge=13)
    parity_tol: float = Field(1e-4, gt=0)


class Demo(_Strict):
    # Both models below this top-1 confidence -> "probably none of the classes".
    unsure_threshold: float = Field(0.6, gt=0, lt=1)
    max_upload_mb: float = Field(10.0, gt=0)


class Study(_Strict):
    """The whole configuration (one YAML file + command-line overrides)."""

    name: str = "synth2real"
    # Offline input folder; substituted for `{bundle}` in any path.
    bundle: str | None = None
    classes: list[str] = Field(default=["dog", "cat", "bird"], min_length=2)
    seeds: list[int] = Field(default=[0, 1, 2, 3, 4], min_length=1)
    # Seed of the data splits (fixed across training seeds, so comparisons pair).
    data_seed: int = 0
    synthetic: SyntheticData
    real: RealData
    backbone: Backbone
    features: Features = Features()
    train: Train = Train()
    pseudo_label: PseudoLabel = PseudoLabel()
    methods: Methods = Methods()
    export: Export = Export()
    demo: Demo = Demo()

    @model_validator(mode="after")
    def _cross_checks(self) -> Study:
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"classes has duplicates: {self.classes}")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds has duplicates: {self.seeds}")
        if self.pseudo_label.source_size not in self.synthetic.sizes:
            raise ValueError(
                f"pseudo_label.source_size={self.pseudo_label.source_size} is not one of "
                f"synthetic.sizes={self.synthetic.sizes}"
            )
        if self.export.seed not in self.seeds:
            raise ValueError(f"export.seed={self.export.seed} is not one of seeds={self.seeds}")
        return self

    # -- derived names, used by the Snakefile and the report -------------------

    @property
    def baseline_variants(self) -> list[str]:
        return [VARIANT_SYNTHETIC.format(size=s) for s in self.synthetic.sizes]

    @property
    def pseudo_source_variant(self) -> str:
        return VARIANT_SYNTHETIC.format(size=self.pseudo_label.source_size)

    @property
    def core_variants(self) -> list[str]:
        """The published study's variants."""
        return [*self.baseline_variants, VARIANT_PSEUDO]

    @property
    def method_variants(self) -> list[str]:
        """The adaptation methods of issue 5 that are enabled (see `methods.py`)."""
        from synth2real.adapt.variants import variant_names

        return variant_names(self)

    @property
    def variants(self) -> list[str]:
        return [*self.core_variants, *self.method_variants]

    @property
    def max_size(self) -> int:
        return max(self.synthetic.sizes)


def _substitute_bundle(node: Any, bundle: str | None, key: str = "") -> Any:
    """Replace `{bundle}` in every string of the raw config, naming the key if unset."""
    if isinstance(node, dict):
        return {k: _substitute_bundle(v, bundle, f"{key}.{k}" if key else k) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute_bundle(v, bundle, f"{key}[{i}]") for i, v in enumerate(node)]
    if isinstance(node, str) and "{bundle}" in node:
        if not bundle:
            raise ConfigError(
                f"config key '{key}' = {node!r} uses {{bundle}}, but no bundle folder was given. "
                "Pass it with `make reproduce BUNDLE=<dir>` or `snakemake --config bundle=<dir>`."
            )
        return node.replace("{bundle}", str(bundle))
    return node


def _format_error(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"] if not (isinstance(p, str) and p in _TAGS))
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check spelling; every key is listed in config/paper.yaml)"
        elif e["type"] == "union_tag_invalid":
            msg = f"unknown kind {e['input'].get('kind')!r}; {e['ctx']['expected_tags']} allowed" \
                if isinstance(e.get("input"), dict) else msg
        value = e.get("input")
        shown = "" if isinstance(value, dict) or e["type"] == "missing" else f" (got {value!r})"
        lines.append(f"  - {key or '<top level>'}: {msg}{shown}")
    return "invalid configuration:\n" + "\n".join(lines)


# Discriminator tags pydantic puts into error locations; they are not keys.
_TAGS = {"folder", "diffusers", "cifar10", "stl10", "torchvision", "path"}


def load(raw: dict[str, Any]) -> Study:
    """Validate a raw config mapping (as Snakemake or YAML gives it) into a `Study`.

    Raises `ConfigError` naming every bad key, its value and what is allowed.
    """
    raw = dict(raw)
    bundle = raw.get("bundle")
    if bundle:
        bundle_path = Path(str(bundle)).expanduser()
        if not bundle_path.is_dir():
            raise ConfigError(
                f"bundle folder {str(bundle)!r} does not exist (config key 'bundle'). "
                "Point BUNDLE=<dir> at the offline bundle (see README, 'Offline inputs')."
            )
        raw["bundle"] = str(bundle_path.resolve())
    raw = _substitute_bundle(raw, raw.get("bundle"))
    try:
        return Study.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_format_error(err)) from None


def load_file(path: str | Path, overrides: dict[str, Any] | None = None) -> Study:
    """Load a YAML config file, applying top-level `overrides` (like `--config k=v`)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    with path.open() as fh:
        raw = yaml.safe_load(fh) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a mapping at top level")
    raw.update(overrides or {})
    return load(raw)
