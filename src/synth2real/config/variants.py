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
                   target resolution first), and a pixel-level part refining the aligned
                   images first: none | fda | simgan | cyclegan | mrgan (settings:
                   `methods.pixel`, synth2real.config.pixel)
    target         feature kind of the real target images: plain | adabn (BatchNorm
                   statistics of the pool)
    target_labels  labeled real target photos of the oracle split, b per class (the labeled-budget
                   track, `budgets`; all of them: the oracle): only | pooled (with the synthetic
                   set) | bridged (stage 2 on the photos, from a label-free variant's models)
    reject         drop the pool images that look least like any class first: energy | entropy
    pseudo_labels  pseudo-label selection on the pool: threshold | balanced
    rounds         self-training rounds, and how the reported round is chosen
    mixing         a fixed real:synthetic ratio in every minibatch instead of concatenation
    trainer        the study's head, or a bottleneck net fitted with the unlabeled pool:
                   dann | mcc | coral | im
    trainable      what trains above the frozen part of the backbone: head (the study's) |
                   last_block (MobileNetV2's last 1x1 conv + BN + ReLU6 too, on cached block inputs)

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
from synth2real.config.pixel import PIXEL_LABELS, Pixel

# Feature kinds: the plain backbone, the aligned source, AdaBN, the last block's inputs, and
# one per pixel-level part (its refined source images).
FeatureKind = Literal["plain", "aligned", "adabn", "block", "fda", "simgan", "cyclegan", "mrgan"]


class Source(Strict):
    """The labeled training images: the synthetic set and its feature kind."""

    # aligned: every source image downsampled to the target's resolution before the backbone.
    features: Literal["plain", "aligned"] = "plain"
    # Images per class of the synthetic set (one of synthetic.sizes); null = pseudo_label.source_size.
    size: int | None = Field(None, ge=1)
    # A pixel-level part: the aligned images refined (FDA, or a GAN trained on the synthetic
    # training split and the unlabeled pool) before the backbone; tested on real photos as
    # they are.
    pixel: Literal["none", "fda", "simgan", "cyclegan", "mrgan"] = "none"

    @model_validator(mode="after")
    def _pixel_on_aligned(self) -> Source:
        if self.pixel != "none" and self.features != "aligned":
            raise ValueError(f"pixel: {self.pixel} refines the source images at the target "
                             "resolution: give it with features: aligned")
        return self

    @property
    def kind(self) -> FeatureKind:
        """The feature kind of these images: the pixel part's, else `features`."""
        return self.features if self.pixel == "none" else self.pixel

    def describe(self) -> str:
        if self.pixel != "none":
            return f"{PIXEL_LABELS[self.pixel]}-refined source images at the target resolution"
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


class Shot(Bottleneck):
    # SHOT (Liang et al., 2020), the full recipe on the frozen features: stage 1 a source model
    # (bottleneck + classifier, cross-entropy with label smoothing 0.1); stage 2 on the pool
    # alone, the source classifier frozen, the bottleneck (and a trained last block) adapted by
    # information maximisation (entropy 1, diversity 1) plus `centroid_weight` (0.3, SHOT's
    # cls_par) x cross-entropy with centroid pseudo-labels, recomputed before every epoch:
    # softmax-weighted class centroids of the pool's bottleneck features, each image labelled
    # by the nearest centroid in cosine distance, then the centroids recomputed from those
    # labels and the pool relabelled (`centroid_rounds`: 2 computations, SHOT's code).
    kind: Literal["shot"] = "shot"
    entropy: float = Field(1.0, ge=0)
    diversity: float = Field(1.0, ge=0)
    centroid_weight: float = Field(0.3, ge=0)
    centroid_rounds: int = Field(2, ge=1, le=10)
    label_smoothing: float = Field(0.1, ge=0, lt=1)
    # Stage-2 epochs over the pool: SHOT's image_target.py --max_epoch 15 (with the study's
    # StepLR); null = the source stage's epochs.
    adapt_epochs: int | None = Field(15, ge=1)

    def describe(self) -> str:
        return (f"SHOT: source model, then IM + {self.centroid_weight:g} x centroid "
                "pseudo-labels on the pool, source classifier frozen")


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
Trainer = Annotated[Head | Mcc | Coral | Im | Shot | Dann, Field(discriminator="kind")]


class TargetLabels(Strict):
    """Labeled real target photos of the oracle split in training (never test or target-val
    photos): `per_class` of each class, or all of them. Seed s's model reads draw s of the
    budget draws (`synth2real.data.budgets`): which photos are drawn varies with the seed, so
    the seed intervals carry both; and the draws are nested, b photos within any larger budget.

    only     the photos alone (all of them: the oracle, the target-supervised upper bound)
    pooled   the photos beside the synthetic training split (concatenated, or `mixing`)
    bridged  bridged transfer (Li et al., 2024): stage 2 on the photos alone, starting from the
             same seed's model of the label-free variant `start` (stage 1, on synthetic
             images; trained once, shared with any study variant of the same parts)
    """

    use: Literal["only", "pooled", "bridged"]
    # Photos per class; null = every photo of the oracle split. The `budgets` track sets it.
    per_class: int | None = Field(None, ge=1)
    # bridged: the parts of the label-free variant whose models stage 2 continues.
    start: Variant | None = None

    @model_validator(mode="after")
    def _start(self) -> TargetLabels:
        if (self.use == "bridged") != (self.start is not None):
            raise ValueError("start gives the stage-1 parts of bridged transfer, and only its: "
                             "give it with use: bridged and leave it out otherwise")
        if self.start is not None and not self.start.label_free:
            raise ValueError("start: stage 1 of bridged transfer trains on synthetic images only "
                             "(no target_labels)")
        return self

    def describe(self) -> str:
        n = "all" if self.per_class is None else f"{self.per_class}"
        photos = f"{n} labeled real photos per class"
        start = self.start.describe() if self.start is not None else ""
        return {"only": f"{photos} alone", "pooled": f"{photos} with the synthetic set",
                "bridged": f"bridged transfer: ({start}), then {photos}"}[self.use]


class Prior(Strict):
    """Label-shift correction at inference: the target class prior pi_t estimated on the
    unlabeled pool, and every prediction reweighted by pi_t / pi_s (pi_s: the training labels'
    class frequencies), folded into the classifier's bias (log pi_t - log pi_s), so the deployed
    model carries it. The pool's labels are never read (its true prior is a diagnostic only).

    em    Saerens et al. (2002): alternate p_t(y|x) ~ p(y|x) pi_t / pi_s and pi_t = mean p_t(y|x)
    bbse  black-box shift estimation (Lipton et al., 2018): pi_t = pi_s * w, w solving
          C w = q, C the joint (prediction, label) frequencies on the labeled source val split,
          q the pool's prediction frequencies (clipped at 0 and renormalised)
    """

    kind: Literal["em", "bbse"] = "em"
    # EM: stop when no class prior moves more than this, or after max_iter rounds.
    tol: float = Field(1e-6, gt=0)
    max_iter: int = Field(1000, ge=1)

    def describe(self) -> str:
        return {"em": "class prior of the pool by EM (Saerens et al.)",
                "bbse": "class prior of the pool by BBSE"}[self.kind]


class Ensemble(Strict):
    """Models of other label-free study variants, their softmax outputs averaged: one model over
    one backbone (members read the same feature kinds and train no block; exported as one ONNX
    graph). Over methods: seed s's model averages seed s's model of every member, so the
    ensemble pairs with the other variants seed by seed. Over seeds (`seeds: true`): every
    seed's model of every member, one model, reported for every seed (its seed spread is 0;
    its bootstrap interval carries the test images)."""

    members: list[str] = Field(min_length=1)
    seeds: bool = False

    @model_validator(mode="after")
    def _two(self) -> Ensemble:
        if len(self.members) < 2 and not self.seeds:
            raise ValueError("an ensemble over methods needs two members or more (one member: "
                             "give seeds: true for its seed ensemble)")
        return self

    def describe(self) -> str:
        over = "every seed's models of " if self.seeds else ""
        return f"ensemble of {over}" + ", ".join(self.members)


class HeadOnly(Strict):
    """The study's setting: the backbone is frozen, only the classifier trains."""

    kind: Literal["head"] = "head"

    def describe(self) -> str:
        return ""


class LastBlock(Strict):
    """MobileNetV2's last block trains too: its 1x1 conv 320 -> 1280 + BatchNorm + ReLU6 on the
    cached 7x7x320 block inputs (the BatchNorm, in eval mode, folded into the conv's weight and
    bias: its statistics stay ImageNet's, as a few photos per minibatch could not estimate them)."""

    kind: Literal["last_block"] = "last_block"
    # null = train.epochs. A block step costs ~1000x a head step on a CPU: the offline config
    # trains block models for fewer epochs.
    epochs: int | None = Field(None, ge=1)
    # The block's learning rate is this times train.lr: pretrained layers move slower than the
    # fresh classifier (Transfer-Learning-Library fine-tunes the backbone at 0.1x).
    lr_scale: float = Field(0.1, gt=0, le=1)

    def describe(self) -> str:
        return "last backbone block trained"


Trainable = Annotated[HeadOnly | LastBlock, Field(discriminator="kind")]

# A bare word or number stands for this setting of the part (`trainer: mcc` = {kind: mcc}).
_SHORTHAND = {"source": "features", "reject": "score", "pseudo_labels": "kind", "rounds": "count",
              "mixing": "ratio", "trainer": "kind", "trainable": "kind", "target_labels": "use",
              "prior": "kind"}


class Variant(Strict):
    """One method variant: a choice for every part (the defaults are the source-only head)."""

    source: Source = Source()
    target: Literal["plain", "adabn"] = "plain"
    pseudo_labels: PseudoLabels | None = None
    # The parts below act on pseudo-labels or replace them; each checks what came before.
    reject: Rejection | None = None
    rounds: Rounds = Rounds()
    trainer: Trainer = Head()
    trainable: Trainable = HeadOnly()
    target_labels: TargetLabels | None = None
    mixing: Mixing | None = None
    # Acts on the trained model: members averaged, then the label-shift correction.
    ensemble: Ensemble | None = None
    prior: Prior | None = None
    # Free text for the paper's methods table; null = generated from the parts.
    description: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = {k: ({_SHORTHAND[k]: v} if k in _SHORTHAND and isinstance(v, str | int | float)
                        and not isinstance(v, bool) else v) for k, v in data.items()}
            if isinstance(data.get("ensemble"), list):  # `ensemble: [a, b]`: its members
                data["ensemble"] = {"members": data["ensemble"]}
        return data

    @field_validator("reject")
    @classmethod
    def _acts_on_pseudo_labels(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None and info.data.get("pseudo_labels", "failed") is None:
            raise ValueError("acts on pseudo-labels: it needs pseudo_labels: threshold or "
                             "balanced (or no reject)")
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

    @field_validator("trainable")
    @classmethod
    def _block_inputs(cls, value: Any, info: ValidationInfo) -> Any:
        d = info.data
        if value.kind == "last_block" and (
                getattr(d.get("source"), "features", "plain") != "plain"
                or d.get("target", "plain") != "plain"):
            raise ValueError("last_block trains on the plain backbone's cached block inputs: it "
                             "takes no aligned source or AdaBN target (none is cached)")
        return value

    @field_validator("target_labels")
    @classmethod
    def _photos_alone(cls, value: TargetLabels | None, info: ValidationInfo) -> Any:
        d = info.data
        if value is not None and value.use != "pooled" and (
                d.get("pseudo_labels") is not None or d.get("rounds", Rounds()).count > 1
                or getattr(d.get("trainer"), "kind", "head") != "head"
                or getattr(d.get("source"), "features", "plain") != "plain"):
            raise ValueError(f"{value.use}: training on the labeled photos alone takes no "
                             "pseudo_labels, rounds, pool trainer or aligned source")
        if value is not None and value.start is not None:
            part = d.get("trainable", HeadOnly())
            if (value.start.trainer.kind, value.start.trainable.kind) != ("head", part.kind):
                raise ValueError(
                    f"start: stage 2 continues stage 1's model, so both need the study's head "
                    f"trainer and the same trainable part (stage 1: {value.start.trainer.kind}/"
                    f"{value.start.trainable.kind}, stage 2: head/{part.kind})")
        return value

    @field_validator("ensemble")
    @classmethod
    def _ensemble_alone(cls, value: Ensemble | None, info: ValidationInfo) -> Any:
        d = info.data
        if value is not None and (
                d.get("pseudo_labels") is not None or d.get("target_labels") is not None
                or getattr(d.get("trainer"), "kind", "head") != "head"
                or getattr(d.get("trainable"), "kind", "head") != "head"):
            raise ValueError("an ensemble is made of its members' models: give it no "
                             "pseudo_labels, target_labels, trainer or trainable of its own (only "
                             "source / target, the feature kinds its members read, and prior)")
        return value

    @field_validator("prior")
    @classmethod
    def _prior_label_free(cls, value: Prior | None, info: ValidationInfo) -> Any:
        if value is not None and info.data.get("target_labels") is not None:
            raise ValueError("the label-shift correction is for label-free models: a model "
                             "trained on labeled target photos takes no prior")
        return value

    @field_validator("mixing")
    @classmethod
    def _mixes_real(cls, value: Any, info: ValidationInfo) -> Any:
        labels = info.data.get("target_labels")
        if value is not None and info.data.get("pseudo_labels", "failed") is None and (
                labels is None or labels.use != "pooled"):
            raise ValueError("mixes real images into the synthetic minibatches: it needs "
                             "pseudo_labels or target_labels: pooled (or no mixing)")
        return value

    # -- what the engine and the workflow read --------------------------------

    @property
    def labels(self) -> Literal["synthetic", "target", "synthetic+target"]:
        """Whose labels train the model: the synthetic set's, labeled real photos' (only, and
        also bridged transfer's stage 2), or both (pooled, bridged)."""
        use = None if self.target_labels is None else self.target_labels.use
        return {None: "synthetic", "only": "target"}.get(use, "synthetic+target")

    @property
    def label_free(self) -> bool:
        """Whether no real label trains the model (a candidate of model selection)."""
        return self.target_labels is None

    @property
    def reads_pool(self) -> bool:
        """Whether training reads the unlabeled pool (pseudo-labels, or a pool trainer; an
        ensemble's members may: its target feature kind is theirs)."""
        return (self.pseudo_labels is not None or self.trainer.kind != "head"
                or self.ensemble is not None)

    @property
    def reads_source(self) -> bool:
        """Whether training reads the synthetic set (not: the photos alone)."""
        return self.target_labels is None or self.target_labels.use == "pooled"

    @property
    def feature_kinds(self) -> dict[str, FeatureKind]:
        """Image set -> the feature kind this variant reads it in (last_block: the block inputs)."""
        if self.trainable.kind == "last_block":
            return dict.fromkeys(("source", "pool", "real_test", "target_labeled"), "block")
        return {"source": self.source.kind, "pool": self.target, "real_test": self.target,
                "target_labeled": self.target}

    def fit(self) -> dict[str, Any]:
        """The parts that decide the trained weights: two variants with the same fit train
        the same model. The target feature kind counts only when training reads the pool,
        the source part only when it reads the synthetic set; the prior never (it corrects a
        trained model: a variant that differs from another only in its prior evaluates the
        other's models, corrected)."""
        skip = {"description", "prior"} | (set() if self.reads_pool else {"target"}) \
            | (set() if self.reads_source else {"source"})
        return self.model_dump(mode="json", exclude=skip)

    def source_model(self) -> Variant:
        """The source-only variant whose models label the pool in the first round."""
        return Variant(source=self.source)

    def resolved(self, threshold: float, size: int) -> Variant:
        """This variant with the study's settings filled in where it says null, and its
        description generated from its parts when it has none."""
        update: dict[str, Any] = {}
        if self.source.size is None and self.reads_source:
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
                and self.source.features == "plain" and self.target == "plain"
                and self.trainable.kind == "head" and self.target_labels is None)

    def describe(self) -> str:
        """A one-line description from the parts, for tables and logs."""
        if self.target_labels is not None and self.target_labels.use != "pooled":
            upper = " (upper bound)" if self.target_labels == TargetLabels(use="only") else ""
            return " + ".join(p for p in (self.target_labels.describe() + upper,
                                          self.trainable.describe()) if p)
        parts = [self.source.describe(), "AdaBN target features" if self.target == "adabn" else "",
                 *(p.describe() for p in (self.reject, self.pseudo_labels) if p is not None),
                 self.rounds.describe(),
                 self.target_labels.describe() if self.target_labels else "",
                 self.mixing.describe() if self.mixing else "",
                 self.trainer.describe(), self.trainable.describe(),
                 *(p.describe() for p in (self.ensemble, self.prior) if p is not None)]
        return " + ".join(p for p in parts if p) or "source-only head"


TargetLabels.model_rebuild()


def threshold_only(settings: dict[str, Any]) -> bool:
    """`Variant.threshold_only` of a variant's recorded parts (the summary's `method.settings`)."""
    return Variant.model_validate(settings).threshold_only()


def _v(**parts: Any) -> Variant:
    return Variant.model_validate(parts)


PL = {"pseudo_labels": "threshold"}
# The ensemble over methods: the feature-level methods on the aligned source.
ALIGNED_METHODS = ["align+im", "align+mcc", "align+dann", "align+coral", "align+shot"]
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
    # The source-only model with the last block trained too: bridged transfer's stage 1.
    "block": _v(trainable="last_block"),
    # A label-free model worth deploying: SHOT's full recipe, label-shift corrections, the
    # last block adapted by the pool trainers, ensembles over methods and over seeds.
    "shot": _v(trainer="shot"),
    "align+shot": _v(source="aligned", trainer="shot"),
    **{f"align+shot+{p}": _v(source="aligned", trainer="shot", prior=p) for p in ("em", "bbse")},
    **{f"block+{t}": _v(trainer=t, trainable="last_block") for t in ("im", "mcc", "dann", "shot")},
    "ens-align": _v(source="aligned", ensemble=ALIGNED_METHODS),
    "ens-align+em": _v(source="aligned", ensemble=ALIGNED_METHODS, prior="em"),
    "ens-seeds-align+shot": _v(source="aligned", ensemble={"members": ["align+shot"],
                                                           "seeds": True}),
    # Pixel-level adaptation: each part alone (the study's head on refined images), and with
    # information maximisation, the best single feature-level part of the earlier runs.
    **{p: _v(source={"features": "aligned", "pixel": p}) for p in PIXEL_LABELS},
    **{f"{p}+im": _v(source={"features": "aligned", "pixel": p}, trainer="im")
       for p in PIXEL_LABELS},
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
    # The pixel-level parts' settings (used by the variants whose source.pixel names them).
    pixel: Pixel = Pixel()
    # Source/target samples per domain for the proxy A-distance and the t-SNE figure.
    domain_sample: int = Field(1000, ge=10)

    @model_validator(mode="after")
    def _names(self) -> Methods:
        for name, spec in self.variants.items():
            if name in RESERVED or name.startswith("synthetic-") or "/" in name or "@" in name:
                raise ValueError(f"variant name {name!r} is reserved for the published variants "
                                 "(synthetic-<size>, pseudo-label) and the oracle, or not a "
                                 "valid folder name ('@' marks the budget track's variants)")
            if not spec.label_free:
                raise ValueError(f"variant {name!r}: target_labels belong to the labeled-budget "
                                 "track: declare it under budgets.methods")
        return self
