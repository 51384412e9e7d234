"""Method variants: each a combination of parts, each part a typed model with its own settings.

A variant is declared in the config by name, as one choice per part; a part
left out keeps its default (the source-only head), and a part written as a bare
word or number takes that choice with its default settings:

    methods:
      variants:
        align+balanced: {source: aligned, pseudo_labels: balanced}
        mix-1to7:       {pseudo_labels: threshold, mixing: 7}
        mcc-t3:         {trainer: {kind: mcc, temperature: 3.0}}

Parts, in the order a variant applies them (`synth2real.adapt.engine` runs them):

    source         which labeled images train the model (the synthetic set of `size`
                   per class) and their feature kind: plain | aligned (downsampled to the
                   target resolution first)
    target         feature kind of the real target images: plain | adabn (BatchNorm
                   statistics of the pool)
    labels         synthetic (the source labels) | target (the labeled target photos of the
                   oracle split: the upper bound, never a deployable candidate)
    reject         drop the pool images that look least like any class first: energy | entropy
    pseudo_labels  pseudo-label selection on the pool: threshold | balanced
    rounds         self-training rounds, and how the reported round is chosen
    mixing         a fixed real:synthetic ratio in every minibatch instead of concatenation
    trainer        the study's head, or a bottleneck net fitted with the unlabeled pool:
                   dann | mcc | coral | im

A part is one settings model here plus one function in `synth2real.adapt.engine`,
registered in that module's tables. Every setting has its default here, once;
`None` means "the study's setting" (`pseudo_label.threshold`, `pseudo_label.
source_size`), filled in by `Variant.resolved` when the config loads. An
impossible combination fails validation naming `methods.variants.<name>.<part>`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from synth2real.config.base import Strict

FeatureKind = Literal["plain", "aligned", "adabn"]


class Source(Strict):
    """The labeled training images: the synthetic set and its feature kind."""

    # aligned: every source image downsampled to the target's resolution before the backbone.
    features: Literal["plain", "aligned"] = "plain"
    # Images per class of the synthetic set (one of synthetic.sizes); null = pseudo_label.source_size.
    size: int | None = Field(None, ge=1)

    def describe(self) -> str:
        return "source images at the target resolution" if self.features == "aligned" else ""


class Rejection(Strict):
    """Out-of-domain rejection: the pool images whose score says "none of the classes" go first."""

    # energy = -logsumexp(logits); entropy = H(softmax), both under the labelling model.
    score: Literal["energy", "entropy"]
    # Share of the pool with the highest scores dropped before pseudo-labelling.
    share: float = Field(0.2, gt=0, lt=1)

    def describe(self) -> str:
        return f"{self.share:g} most out-of-domain pool images ({self.score}) dropped"


class Threshold(Strict):
    """The study's pseudo-label selection: every pool image with top probability > threshold."""

    kind: Literal["threshold"] = "threshold"
    # null = pseudo_label.threshold.
    threshold: float | None = Field(None, gt=0, lt=1)

    def describe(self) -> str:
        return f"pseudo-labels with confidence > {self.threshold:g}"


class Balanced(Strict):
    """Class-balanced pseudo-label selection: per predicted class the most confident images,
    at most share * pool / C, above the threshold."""

    kind: Literal["balanced"] = "balanced"
    share: float = Field(0.5, gt=0, le=1)
    threshold: float | None = Field(None, gt=0, lt=1)

    def describe(self) -> str:
        return f"class-balanced pseudo-labels (top {self.share:g} of pool/C per predicted class)"


PseudoLabels = Annotated[Threshold | Balanced, Field(discriminator="kind")]


class Rounds(Strict):
    """Self-training: label the pool, retrain a fresh model from the same start, repeat."""

    count: int = Field(1, ge=1, le=10)
    # How the reported round is chosen (never test labels): synthetic val accuracy, or the
    # lowest mean prediction entropy on the unlabeled pool.
    chosen_by: Literal["val_acc", "pool_entropy"] = "val_acc"

    def describe(self) -> str:
        return f"up to {self.count} self-training rounds, chosen by {self.chosen_by}" \
            if self.count > 1 else ""


class Mixing(Strict):
    """Real:synthetic = 1:ratio in every minibatch (instead of concatenating the two sets)."""

    ratio: int = Field(ge=1)

    def describe(self) -> str:
        return f"real:synthetic = 1:{self.ratio} per minibatch"


class Head(Strict):
    """The study's head: Dropout + Linear on the frozen features (its schedule: `train`)."""

    kind: Literal["head"] = "head"

    def describe(self) -> str:
        return ""


class Bottleneck(Strict):
    """A bottleneck net on the frozen features (Linear + ReLU + Dropout, then a linear
    classifier). Transfer-Learning-Library's image-classification examples default to
    --bottleneck-dim 256. The schedule is the study's `train`."""

    bottleneck: int = Field(256, ge=2)


class Mcc(Bottleneck):
    # Minimum Class Confusion (Jin et al., 2020). Transfer-Learning-Library
    # examples/domain_adaptation/image_classification/mcc.py: --temperature 2.5, --trade-off 1.0.
    kind: Literal["mcc"] = "mcc"
    temperature: float = Field(2.5, gt=0)
    weight: float = Field(1.0, ge=0)

    def describe(self) -> str:
        return (f"MCC on the pool (T = {self.temperature:g}, weight {self.weight:g}), bottleneck "
                "on the frozen features")


class Coral(Bottleneck):
    # Deep CORAL (Sun & Saenko, 2016) on the bottleneck outputs. Transfer-Learning-Library
    # examples/domain_generalization/image_classification/coral.py: --trade-off 1.
    kind: Literal["coral"] = "coral"
    weight: float = Field(1.0, ge=0)

    def describe(self) -> str:
        return f"CORAL between source and pool bottleneck features (weight {self.weight:g})"


class Im(Bottleneck):
    # Information maximisation as in SHOT (Liang et al., 2020): mean prediction entropy
    # (weight `entropy`) minus the entropy of the mean prediction (weight `diversity`); 1 and 1.
    kind: Literal["im"] = "im"
    entropy: float = Field(1.0, ge=0)
    diversity: float = Field(1.0, ge=0)

    def describe(self) -> str:
        return (f"information maximisation on the pool (entropy {self.entropy:g}, diversity "
                f"{self.diversity:g}), bottleneck on the frozen features")


class Dann(Bottleneck):
    # DANN (Ganin & Lempitsky, 2015): a domain classifier behind gradient reversal.
    kind: Literal["dann"] = "dann"
    # Width of the domain classifier's hidden layer.
    hidden: int = Field(256, ge=2)
    epochs: int = Field(25, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    # Final weight of the reversed domain gradient, and the steepness of its ramp.
    domain_weight: float = Field(1.0, ge=0)
    ramp_gamma: float = Field(10.0, gt=0)

    def describe(self) -> str:
        return "DANN bottleneck on the frozen features"


# Trainers that fit a bottleneck net with a loss on the unlabeled pool added to the source CE.
PoolObjective = Mcc | Coral | Im
Trainer = Annotated[Head | Mcc | Coral | Im | Dann, Field(discriminator="kind")]

# A bare word or number stands for this setting of the part (`trainer: mcc` = {kind: mcc}).
_SHORTHAND = {"source": "features", "reject": "score", "pseudo_labels": "kind", "rounds": "count",
              "mixing": "ratio", "trainer": "kind"}


class Variant(Strict):
    """One method variant: a choice for every part (the defaults are the source-only head)."""

    source: Source = Source()
    target: Literal["plain", "adabn"] = "plain"
    pseudo_labels: PseudoLabels | None = None
    # The parts below act on pseudo-labels or replace them; each checks what came before.
    reject: Rejection | None = None
    rounds: Rounds = Rounds()
    mixing: Mixing | None = None
    trainer: Trainer = Head()
    labels: Literal["synthetic", "target"] = "synthetic"
    # Free text for the paper's methods table; null = generated from the parts.
    description: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = {k: ({_SHORTHAND[k]: v} if k in _SHORTHAND and isinstance(v, str | int | float)
                        and not isinstance(v, bool) else v) for k, v in data.items()}
        return data

    @field_validator("reject", "mixing")
    @classmethod
    def _acts_on_pseudo_labels(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None and info.data.get("pseudo_labels", "failed") is None:
            raise ValueError(f"acts on pseudo-labels: it needs pseudo_labels: threshold or "
                             f"balanced (or no {info.field_name})")
        return value

    @field_validator("rounds")
    @classmethod
    def _rounds_relabel(cls, value: Rounds, info: ValidationInfo) -> Rounds:
        if value.count > 1 and info.data.get("pseudo_labels", "failed") is None:
            raise ValueError("each round relabels the pool: rounds > 1 needs pseudo_labels: "
                             "threshold or balanced")
        return value

    @field_validator("trainer")
    @classmethod
    def _trainer_alone(cls, value: Any, info: ValidationInfo) -> Any:
        if value.kind != "head" and info.data.get("pseudo_labels") is not None:
            raise ValueError(f"{value.kind} learns from the unlabeled pool itself; it does not "
                             "combine with pseudo_labels (leave that part out)")
        return value

    @field_validator("labels")
    @classmethod
    def _target_labels_alone(cls, value: str, info: ValidationInfo) -> str:
        d = info.data
        if value == "target" and (d.get("pseudo_labels") is not None or d.get("mixing") is not None
                                  or getattr(d.get("trainer"), "kind", "head") != "head"
                                  or getattr(d.get("source"), "features", "plain") != "plain"):
            raise ValueError("target: the head trained on labeled target photos alone takes no "
                             "pseudo_labels, mixing, pool trainer or aligned source")
        return value

    # -- what the engine and the workflow read --------------------------------

    @property
    def reads_pool(self) -> bool:
        """Whether training reads the unlabeled pool (pseudo-labels, or a pool trainer)."""
        return self.pseudo_labels is not None or self.trainer.kind != "head"

    @property
    def feature_kinds(self) -> dict[str, FeatureKind]:
        """Image set -> the feature kind this variant reads it in."""
        return {"source": self.source.features, "pool": self.target, "real_test": self.target,
                "target_labeled": self.target}

    def fit(self) -> dict[str, Any]:
        """The parts that decide the trained weights: two variants with the same fit train
        the same model. The target feature kind counts only when training reads the pool."""
        skip = {"description"} | (set() if self.reads_pool else {"target"})
        return self.model_dump(mode="json", exclude=skip)

    def source_model(self) -> Variant:
        """The source-only variant whose models label the pool in the first round."""
        return Variant(source=self.source)

    def resolved(self, threshold: float, size: int) -> Variant:
        """This variant with the study's settings filled in where it says null, and its
        description generated from its parts when it has none."""
        update: dict[str, Any] = {}
        if self.source.size is None and self.labels == "synthetic":
            update["source"] = self.source.model_copy(update={"size": size})
        if self.pseudo_labels is not None and self.pseudo_labels.threshold is None:
            update["pseudo_labels"] = self.pseudo_labels.model_copy(update={"threshold": threshold})
        out = self.model_copy(update=update)
        return out if out.description else out.model_copy(update={"description": out.describe()})

    def threshold_only(self) -> bool:
        """Whether this variant is a point of the threshold sweep: threshold pseudo-labels on
        the plain features, one round, concatenated, the study's head, nothing else."""
        return (isinstance(self.pseudo_labels, Threshold) and self.reject is None
                and self.rounds.count == 1 and self.mixing is None and self.trainer.kind == "head"
                and self.source.features == "plain" and self.target == "plain")

    def describe(self) -> str:
        """A one-line description from the parts, for tables and logs."""
        if self.labels == "target":
            return "the study's head on labeled real target photos (upper bound)"
        parts = [self.source.describe(), "AdaBN target features" if self.target == "adabn" else "",
                 *(p.describe() for p in (self.reject, self.pseudo_labels) if p is not None),
                 self.rounds.describe(), self.mixing.describe() if self.mixing else "",
                 self.trainer.describe()]
        return " + ".join(p for p in parts if p) or "source-only head"


def threshold_only(settings: dict[str, Any]) -> bool:
    """`Variant.threshold_only` of a variant's recorded parts (the summary's `method.settings`)."""
    return Variant.model_validate(settings).threshold_only()


def _v(**parts: Any) -> Variant:
    return Variant.model_validate(parts)


PL = {"pseudo_labels": "threshold"}
# The variants run when the config names none. align+adabn+dann is left out:
# AdaBN adds nothing to align+dann on the offline bundle (its BN statistics
# already come from the target's dataset), and it would cost a DANN job.
DEFAULT_VARIANTS: dict[str, Variant] = {
    **{f"threshold-{t:g}": _v(pseudo_labels={"kind": "threshold", "threshold": t})
       for t in (0.7, 0.8, 0.9, 0.95)},
    "balanced": _v(pseudo_labels="balanced"),
    "self-training": _v(**PL, rounds=3),
    "ood-energy": _v(**PL, reject="energy"),
    "adabn": _v(target="adabn"),
    "adabn+pl": _v(target="adabn", **PL),
    "dann": _v(trainer="dann"),
    "align": _v(source="aligned"),
    "align+pl": _v(source="aligned", **PL),
    "align+balanced": _v(source="aligned", pseudo_labels="balanced"),
    "align+dann": _v(source="aligned", trainer="dann"),
    "align+adabn": _v(source="aligned", target="adabn"),
    "align+adabn+pl": _v(source="aligned", target="adabn", **PL),
    "align+adabn+balanced": _v(source="aligned", target="adabn", pseudo_labels="balanced"),
    **{f"mix-1to{r}": _v(**PL, mixing=r) for r in (1, 7, 15)},
    **{f"{a}{t}": _v(source=s, trainer=t) for t in ("mcc", "coral", "im")
       for a, s in (("", "plain"), ("align+", "aligned"))},
}


class AdaBN(Strict):
    # Unlabeled pool images used to re-estimate the BatchNorm statistics (torch, train-mode BN).
    images: int = Field(512, ge=2)
    batch_size: int = Field(64, ge=2)


class Align(Strict):
    # Target shorter side in px; null = measured: median over the unlabeled pool.
    target_side: int | None = Field(None, ge=8)


# Names of the published variants and the oracle (built from the study's own sections).
RESERVED = ("pseudo-label", "oracle")


class Methods(Strict):
    """Adaptation methods beyond the published study, each a variant over all seeds, and the
    settings of the feature passes their parts share (one aligned source pass, one AdaBN pass)."""

    # Variant name -> its parts; {} runs the published three variants (and the oracle) only.
    variants: dict[str, Variant] = Field(default_factory=lambda: dict(DEFAULT_VARIANTS))
    adabn: AdaBN = AdaBN()
    align: Align = Align()
    # Source/target samples per domain for the proxy A-distance and the t-SNE figure.
    domain_sample: int = Field(1000, ge=10)

    @model_validator(mode="after")
    def _names(self) -> Methods:
        for name in self.variants:
            if name in RESERVED or name.startswith("synthetic-") or "/" in name:
                raise ValueError(f"variant name {name!r} is reserved for the published variants "
                                 "(synthetic-<size>, pseudo-label) and the oracle, or not a "
                                 "valid folder name")
        return self
