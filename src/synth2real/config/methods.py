"""Adaptation method variants as combinations of parts, and each part's settings.

A variant is declared in the config by name, as one choice per part:

    methods:
      variants:
        align+balanced: {source: aligned, select: balanced}
        mix-1to7:       {select: threshold, mix_ratio: 7}

Parts (each implemented once, in `synth2real.adapt`): source features
(`plain` | `aligned` to the target resolution), target features (`plain` |
`adabn`), pool rejection before pseudo-labelling (`none` | `energy` |
`entropy`), pseudo-label selection (`none` | `threshold` | `balanced`), the
number of self-training rounds, the trainer (`head` | `dann` | `mcc` |
`coral` | `im`) and minibatch mixing (`mix_ratio`). Settings shared by every
variant that uses a part (e.g. `balanced.share`, `mcc.temperature`) live
beside `variants`. A new combination is a config
edit; an impossible one fails validation naming the variant and the part.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, model_validator

from synth2real.config.base import Strict


class Variant(Strict):
    """One method variant: a choice for every part (the defaults are the source-only head)."""

    source: Literal["plain", "aligned"] = "plain"
    target: Literal["plain", "adabn"] = "plain"
    # Drop the pool images that look least like any class (under the source model) first.
    reject: Literal["none", "energy", "entropy"] = "none"
    select: Literal["none", "threshold", "balanced"] = "none"
    # Pseudo-label confidence threshold; null = pseudo_label.threshold.
    threshold: float | None = Field(None, gt=0, lt=1)
    # Rounds of (label the pool, retrain a fresh head from the synthetic start).
    rounds: int = Field(1, ge=1, le=10)
    # The study's head on (pseudo-)labels, or a bottleneck net fitted with the unlabeled pool:
    # DANN (adversarial), MCC, CORAL or IM (a loss on the pool added to the source CE).
    trainer: Literal["head", "dann", "mcc", "coral", "im"] = "head"
    # Synthetic images per pseudo-labelled real image in every minibatch; null = concatenate.
    mix_ratio: int | None = Field(None, ge=1)
    # Free text for the paper's methods table; null = generated from the parts.
    description: str | None = None

    @model_validator(mode="after")
    def _possible(self) -> Variant:
        labels = self.select != "none"
        needs_labels = {"reject": self.reject != "none", "threshold": self.threshold is not None,
                        "rounds": self.rounds > 1, "mix_ratio": self.mix_ratio is not None}
        for part, used in needs_labels.items():
            if used and not labels:
                raise ValueError(f"part {part!r} acts on pseudo-labels: it needs select: threshold "
                                 "or select: balanced")
        if self.trainer != "head" and labels:
            raise ValueError(f"part 'trainer': {self.trainer} learns from the unlabeled pool "
                             "itself; it does not combine with pseudo-label selection "
                             "(set select: none)")
        return self


class Balanced(Strict):
    # Per predicted class keep at most share * pool / C images, most confident first.
    share: float = Field(0.5, gt=0, le=1)


class SelfTraining(Strict):
    # How the reported round is chosen (never test labels): synthetic val accuracy,
    # or the lowest mean prediction entropy on the unlabeled pool.
    select_by: Literal["val_acc", "pool_entropy"] = "val_acc"


class OodRejection(Strict):
    # Share of the pool with the highest out-of-domain score dropped before pseudo-labeling.
    reject_share: float = Field(0.2, ge=0, lt=1)


class AdaBN(Strict):
    # Unlabeled pool images used to re-estimate the BatchNorm statistics (torch, train-mode BN).
    images: int = Field(512, ge=2)
    batch_size: int = Field(64, ge=2)


class Align(Strict):
    # Target shorter side in px; null = measured: median over the unlabeled pool.
    target_side: int | None = Field(None, ge=8)


class Dann(Strict):
    bottleneck: int = Field(256, ge=2)
    # Width of the domain classifier's hidden layer.
    hidden: int = Field(256, ge=2)
    epochs: int = Field(25, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    # Final weight of the reversed domain gradient, and the steepness of its ramp.
    domain_weight: float = Field(1.0, ge=0)
    ramp_gamma: float = Field(10.0, gt=0)


class Objective(Strict):
    """Settings every pool objective shares: the width of its bottleneck on the frozen features.

    Transfer-Learning-Library's image-classification examples (mcc.py and the
    others) default to --bottleneck-dim 256. The schedule is the study's `train`.
    """

    bottleneck: int = Field(256, ge=2)


class Mcc(Objective):
    # Minimum Class Confusion (Jin et al., 2020). Transfer-Learning-Library
    # examples/domain_adaptation/image_classification/mcc.py: --temperature 2.5, --trade-off 1.0.
    temperature: float = Field(2.5, gt=0)
    weight: float = Field(1.0, ge=0)


class Coral(Objective):
    # Deep CORAL (Sun & Saenko, 2016) on the bottleneck outputs. Transfer-Learning-Library
    # examples/domain_generalization/image_classification/coral.py: --trade-off 1.
    weight: float = Field(1.0, ge=0)


class Im(Objective):
    # Information maximisation as in SHOT (Liang et al., 2020): mean prediction entropy
    # (weight `entropy`) minus the entropy of the mean prediction (weight `diversity`); 1 and 1.
    entropy: float = Field(1.0, ge=0)
    diversity: float = Field(1.0, ge=0)


# Trainer name -> the settings section (methods.<name>) of each pool objective.
OBJECTIVES: dict[str, type[Objective]] = {"mcc": Mcc, "coral": Coral, "im": Im}
# How `describe` names each, from its settings.
_OBJECTIVE_TEXT = {
    "mcc": "MCC on the pool (T = {temperature:g}, weight {weight:g}), bottleneck on the frozen features",
    "coral": "CORAL between source and pool bottleneck features (weight {weight:g})",
    "im": "information maximisation on the pool (entropy {entropy:g}, diversity {diversity:g}), "
          "bottleneck on the frozen features",
}


def _v(**parts: Any) -> Variant:
    return Variant(**parts)


PL = {"select": "threshold"}
# The variants run when the config names none. align+adabn+dann is left out:
# AdaBN adds nothing to align+dann on the offline bundle (its BN statistics
# already come from the target's dataset), and it would cost a DANN job.
DEFAULT_VARIANTS: dict[str, Variant] = {
    **{f"threshold-{t:g}": _v(select="threshold", threshold=t) for t in (0.51, 0.7, 0.8, 0.9, 0.95)},
    "balanced": _v(select="balanced"),
    "self-training": _v(**PL, rounds=3),
    "ood-energy": _v(**PL, reject="energy"),
    "adabn": _v(target="adabn"),
    "adabn+pl": _v(target="adabn", **PL),
    "dann": _v(trainer="dann"),
    "align": _v(source="aligned"),
    "align+pl": _v(source="aligned", **PL),
    "align+balanced": _v(source="aligned", select="balanced"),
    "align+dann": _v(source="aligned", trainer="dann"),
    "align+adabn": _v(source="aligned", target="adabn"),
    "align+adabn+pl": _v(source="aligned", target="adabn", **PL),
    "align+adabn+balanced": _v(source="aligned", target="adabn", select="balanced"),
    **{f"mix-1to{r}": _v(**PL, mix_ratio=r) for r in (1, 7, 15)},
    **{f"{a}{t}": _v(source=s, trainer=t) for t in OBJECTIVES
       for a, s in (("", "plain"), ("align+", "aligned"))},
}


class Methods(Strict):
    """Adaptation methods beyond the published study, each a variant over all seeds."""

    # Variant name -> its parts; {} runs the published three variants only.
    variants: dict[str, Variant] = Field(default_factory=lambda: dict(DEFAULT_VARIANTS))
    balanced: Balanced = Balanced()
    self_training: SelfTraining = SelfTraining()
    ood: OodRejection = OodRejection()
    adabn: AdaBN = AdaBN()
    align: Align = Align()
    dann: Dann = Dann()
    mcc: Mcc = Mcc()
    coral: Coral = Coral()
    im: Im = Im()
    # Source/target samples per domain for the proxy A-distance and the t-SNE figure.
    domain_sample: int = Field(1000, ge=10)

    @model_validator(mode="after")
    def _names(self) -> Methods:
        for name in self.variants:
            if name in ("pseudo-label", "oracle") or name.startswith("synthetic-") or "/" in name:
                raise ValueError(f"variant name {name!r} is reserved for the published variants "
                                 "(synthetic-<size>, pseudo-label) and the oracle, or not a "
                                 "valid folder name")
        return self

    def spec(self, name: str, threshold: float) -> dict[str, Any]:
        """Everything variant `name` depends on: its parts plus the settings of the parts it
        uses (`threshold`: pseudo_label.threshold, the default). Also its rerun trigger."""
        v = self.variants[name]
        spec: dict[str, Any] = v.model_dump(exclude={"description"})
        if v.select != "none":
            spec["threshold"] = v.threshold if v.threshold is not None else threshold
        if v.select == "balanced":
            spec["share"] = self.balanced.share
        if v.reject != "none":
            spec["reject_share"] = self.ood.reject_share
        if v.rounds > 1:
            spec["select_by"] = self.self_training.select_by
        if v.trainer == "dann":
            spec["dann"] = self.dann.model_dump()
        if v.trainer in OBJECTIVES:
            spec[v.trainer] = getattr(self, v.trainer).model_dump()
        spec["description"] = v.description or describe(spec)
        return spec


# The parts of a point of the threshold sweep: pseudo-labels by threshold, nothing else.
THRESHOLD_ONLY = {"source": "plain", "target": "plain", "reject": "none", "select": "threshold",
                  "rounds": 1, "trainer": "head", "mix_ratio": None}


def threshold_only(parts: Mapping[str, Any]) -> bool:
    """Whether a variant's parts (or its spec) make it a point of the threshold sweep."""
    return all(parts.get(k) == v for k, v in THRESHOLD_ONLY.items())


def describe(spec: dict[str, Any]) -> str:
    """A one-line description of a variant from its parts, for tables and logs."""
    parts = []
    if spec["source"] == "aligned":
        parts.append("source images at the target resolution")
    if spec["target"] == "adabn":
        parts.append("AdaBN target features")
    if spec["reject"] != "none":
        parts.append(f"{spec['reject_share']:g} most out-of-domain pool images ({spec['reject']}) "
                     "dropped")
    if spec["select"] == "threshold":
        parts.append(f"pseudo-labels with confidence > {spec['threshold']:g}")
    elif spec["select"] == "balanced":
        parts.append(f"class-balanced pseudo-labels (top {spec['share']:g} of pool/C per "
                     "predicted class)")
    if spec["rounds"] > 1:
        parts.append(f"up to {spec['rounds']} self-training rounds, chosen by {spec['select_by']}")
    if spec["mix_ratio"] is not None:
        parts.append(f"real:synthetic = 1:{spec['mix_ratio']} per minibatch")
    if spec["trainer"] == "dann":
        parts.append("DANN bottleneck on the frozen features")
    elif spec["trainer"] in OBJECTIVES:
        parts.append(_OBJECTIVE_TEXT[spec["trainer"]].format(**spec[spec["trainer"]]))
    return " + ".join(parts) or "source-only head"
