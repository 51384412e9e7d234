"""The study's config sections other than sources and adaptation methods."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from synth2real.config.base import Strict
from synth2real.config.sources import RealSource, SourceImages, WeightsSource

# ---------------------------------------------------------------- study ----


class SyntheticData(Strict):
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


class RealData(Strict):
    source: RealSource
    # Labeled real test images per class.
    test_per_class: int = Field(800, ge=1)
    # Unlabeled pool: `pool_size` images, `ood_fraction` of them from other classes.
    pool_size: int = Field(1500, ge=1)
    ood_fraction: float = Field(0.1, ge=0, lt=1)
    # Labeled real photos per class for model selection only (disjoint from test and pool).
    target_val_per_class: int = Field(30, ge=1)
    # Labeled real photos per class for the oracle (the target-supervised upper bound):
    # at most this many of those left after test, pool and target val; null = all; 0 = no oracle.
    oracle_per_class: int | None = Field(None, ge=0)


class Backbone(Strict):
    arch: Literal["mobilenet_v2"] = "mobilenet_v2"
    weights: WeightsSource
    image_size: int = Field(224, ge=32)


class Features(Strict):
    # onnxruntime is ~10x faster than eager torch on CPU (see `make bench`);
    # the export is parity-checked before any feature is written.
    engine: Literal["onnxruntime", "torch"] = "onnxruntime"
    batch_size: int = Field(32, ge=1)
    parity_tol: float = Field(1e-4, gt=0)


class Train(Strict):
    optimizer: Literal["adam"] = "adam"
    lr: float = Field(1e-3, gt=0)
    step_size: int = Field(7, ge=1)
    gamma: float = Field(0.1, gt=0, le=1)
    epochs: int = Field(25, ge=1)
    batch_size: int = Field(32, ge=1)
    # torchvision's MobileNetV2 classifier is Dropout(0.2) + Linear: keep both.
    dropout: float = Field(0.2, ge=0, lt=1)


class PseudoLabel(Strict):
    threshold: float = Field(0.51, gt=0, lt=1)
    # Which baseline labels the pool (a synthetic size from synthetic.sizes).
    source_size: int = 1000



class Export(Strict):
    # The seed whose baseline and adapted models are exported to ONNX.
    seed: int = 0
    opset: int = Field(18, ge=13)
    parity_tol: float = Field(1e-4, gt=0)


class Demo(Strict):
    # Every model below this top-1 confidence -> "probably none of the classes".
    unsure_threshold: float = Field(0.6, gt=0, lt=1)
    # Largest accepted file (each file of a request).
    max_upload_mb: float = Field(10.0, gt=0)
    # Decoded-pixel budgets in megapixels (width x height read from the header, before any
    # decoding): one photo (24 = a 6000x4000 camera photo), and one request's photos together.
    max_image_mpx: float = Field(24.0, gt=0)
    max_request_mpx: float = Field(96.0, gt=0)

    @model_validator(mode="after")
    def _request_holds_an_image(self) -> Demo:
        if self.max_request_mpx < self.max_image_mpx:
            raise ValueError(f"demo.max_request_mpx ({self.max_request_mpx:g}) must be at least "
                             f"demo.max_image_mpx ({self.max_image_mpx:g})")
        return self

