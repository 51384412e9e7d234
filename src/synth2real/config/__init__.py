"""The one typed study configuration, validated before any work starts.

Every setting of the published study (README, "The study as configured") is
a key here with the published value as its default; what the study left
unstated (image size, epochs, batch size, seeds, sources, pool size) is a
documented choice. Config files (`config/paper.yaml`, `config/offline.yaml`) only override defaults.

Paths may contain `{bundle}`, replaced by the top-level `bundle` key (the
offline input folder, set with `make ... BUNDLE=<dir>` or
`snakemake --config bundle=<dir>`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator

from synth2real.config.base import Strict
from synth2real.config.budgets import BudgetClaim, Budgets, variant_name
from synth2real.config.evaluation import (
    CRITERIA,
    Bootstrap,
    Claim,
    Claims,
    Evaluation,
    published_claims,
)
from synth2real.config.pixel import PIXEL_LABELS, CycleGan, Fda, MrGan, Pixel, SimGan
from synth2real.config.sections import (
    Backbone,
    Demo,
    Export,
    Features,
    PseudoLabel,
    RealData,
    SyntheticData,
    Train,
)
from synth2real.config.sources import (
    DiffusersGenerator,
    FolderImages,
    FolderReal,
    PathWeights,
    TorchvisionReal,
    TorchvisionWeights,
)
from synth2real.config.variants import (
    AdaBN,
    Align,
    Balanced,
    Bottleneck,
    Coral,
    Dann,
    Ensemble,
    Head,
    HeadOnly,
    Im,
    LastBlock,
    Mcc,
    Methods,
    Mixing,
    PoolObjective,
    Prior,
    Rejection,
    Rounds,
    Shot,
    Source,
    TargetLabels,
    Threshold,
    Variant,
)
from synth2real.errors import ConfigError

__all__ = [
    "CRITERIA",
    "VARIANT_ORACLE",
    "VARIANT_PSEUDO",
    "VARIANT_SYNTHETIC",
    "AdaBN",
    "Align",
    "Backbone",
    "Balanced",
    "Bootstrap",
    "Bottleneck",
    "BudgetClaim",
    "Budgets",
    "Claim",
    "Claims",
    "Coral",
    "CycleGan",
    "Dann",
    "Demo",
    "DiffusersGenerator",
    "Ensemble",
    "Evaluation",
    "Export",
    "Fda",
    "Features",
    "FolderImages",
    "FolderReal",
    "Head",
    "HeadOnly",
    "Im",
    "LastBlock",
    "Mcc",
    "Methods",
    "Mixing",
    "MrGan",
    "PathWeights",
    "Pixel",
    "PoolObjective",
    "Prior",
    "PseudoLabel",
    "RealData",
    "Rejection",
    "Roles",
    "Rounds",
    "Shot",
    "SimGan",
    "Source",
    "Study",
    "SyntheticData",
    "TargetLabels",
    "Threshold",
    "TorchvisionReal",
    "TorchvisionWeights",
    "Train",
    "Variant",
    "load",
    "load_file",
    "variant_name",
]

VARIANT_SYNTHETIC = "synthetic-{size}"
VARIANT_PSEUDO = "pseudo-label"
# The target-supervised upper bound: the study's head on labeled real target photos.
VARIANT_ORACLE = "oracle"


class Roles(Strict):
    """Which variants play the published study's roles (derived from the config)."""

    # synthetic-<size> for every configured size, smallest first.
    baselines: list[str]
    # The pseudo-labels' source model: gap closure 0, the reference of paired differences.
    source_only: str
    # The published method.
    published: str
    # The target-supervised upper bound (gap closure 1), if the study trains one.
    oracle: str | None


class JobInputs(Strict):
    """What one training job reads beyond its image sets (`Study.job_inputs`)."""

    # Variant -> the variant whose models give its first pseudo-labels / train its model
    # (shared) / start its bridged transfer; each of those variants' checkpoints per seed.
    labellers: dict[str, str]
    shares: dict[str, str]
    starts: dict[str, str]
    # Ensemble variant -> its member variants (their checkpoints per member, per seed).
    ensembles: dict[str, list[str]]
    # The budget draws of labeled photos; the backbone (the pretrained last block).
    draws: bool
    backbone: bool
    # A job of the labeled-budget track (no proxy A-distance).
    budget_track: bool

    @property
    def upstream(self) -> list[str]:
        """The variants whose checkpoints the job reads."""
        return [*self.labellers.values(), *self.shares.values(), *self.starts.values(),
                *(m for ms in self.ensembles.values() for m in ms)]


class Study(Strict):
    """The whole configuration (one YAML file + command-line overrides)."""

    # Also the output folder runs/<name>/ of the workflow.
    name: str = Field("synth2real", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
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
    budgets: Budgets = Budgets()
    export: Export = Export()
    demo: Demo = Demo()
    evaluation: Evaluation = Evaluation()

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
        self._check_variants()
        for claim in self.claims:
            for v in (claim.a, claim.b):
                if v not in self.variants:
                    raise ValueError(f"evaluation.claims: claim {claim.id!r} names variant {v!r}, "
                                     f"which this study does not run; variants: {list(self.variants)}")
        free = [v for v, spec in self.variants.items() if spec.label_free]
        wrong = [v for v in self.evaluation.candidates or [] if v not in free]
        if wrong:
            raise ValueError(f"evaluation.candidates: {wrong} are not label-free variants of this "
                             f"study; candidates are among {free}")
        if self.export.seed not in self.seeds:
            raise ValueError(f"export.seed={self.export.seed} is not one of seeds={self.seeds}")
        return self

    def _check_variants(self) -> None:
        """Each variant trains on a configured set size, has the source-only model its
        pseudo-labels come from, and is not another variant under a second name (the budget track's variants may be: a
        method at `all` photos can be the oracle, trained once)."""
        seen: dict[str, str] = {}
        for name, v in self.trained.items():
            key = (f"budgets.methods.{name.split('@')[0]}" if "@" in name
                   else f"methods.variants.{name}")
            if v.reads_source and v.source.size not in self.synthetic.sizes:
                raise ValueError(f"{key}.source.size={v.source.size} is not one of "
                                 f"synthetic.sizes={self.synthetic.sizes}")
            spec = v.model_dump_json(exclude={"description"})
            if spec in seen and "@" not in name:
                raise ValueError(f"{key} has every part equal to variant {seen[spec]!r}: the "
                                 "same model under two names; remove one")
            seen.setdefault(spec, name)
            if v.ensemble is not None:
                self._check_ensemble(key, v)
            if v.pseudo_labels is not None and self.labelled_by(name) is None:
                src = v.source_model()
                raise ValueError(
                    f"{key}.pseudo_labels: the first round's labels come from the source-only "
                    f"model on {src.source.features} source features ({src.source.size} per "
                    f"class), which this study does not train; declare it, e.g. "
                    f"`{src.source.features}: {{source: {src.source.features}}}`")

    def _check_ensemble(self, key: str, v: Variant) -> None:
        """An ensemble's members are label-free study variants, no ensembles, training no
        block, reading the feature kinds the ensemble reads."""
        for m in v.ensemble.members:
            u = self.variants.get(m)
            if u is None or not u.label_free:
                raise ValueError(f"{key}.ensemble.members: {m!r} is not a label-free variant of "
                                 f"this study; variants: {list(self.variants)}")
            if u.ensemble is not None or u.trainable.kind != "head":
                raise ValueError(f"{key}.ensemble.members: {m!r} is an ensemble or trains the "
                                 "last block; members are models over the cached features")
            if u.feature_kinds != v.feature_kinds:
                raise ValueError(
                    f"{key}: member {m!r} reads source/target features "
                    f"{u.source.features}/{u.target}, the ensemble {v.source.features}/"
                    f"{v.target}: give the ensemble source: {u.source.features} and target: "
                    f"{u.target} (one backbone for every member)")

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
        """The adaptation method variants beyond the study, in config order."""
        return list(self.methods.variants)

    @property
    def roles(self) -> Roles:
        return Roles(baselines=self.baseline_variants, source_only=self.pseudo_source_variant,
                     published=VARIANT_PSEUDO, oracle=self.oracle_variant)

    @property
    def claims(self) -> list[Claim]:
        """The claims judged in the summary: the config's, else the study's published three."""
        if self.evaluation.claims.items is not None:
            return self.evaluation.claims.items
        sizes = self.baseline_variants
        return [*published_claims(sizes[0], sizes[-1], self.pseudo_source_variant,
                                   VARIANT_PSEUDO), *self.pixel_claims]

    @property
    def pixel_claims(self) -> list[Claim]:
        """The pixel-level studies' claims, for the variants this study runs: each refined
        variant beats its unrefined twin (the same parts on the aligned source: SimGAN's and
        MrGAN's "refined beats unrefined"), and MrGAN's two stages beat CycleGAN's one."""
        specs = {v.model_dump_json(exclude={"description"}): n for n, v in self.variants.items()}

        def twin(v: Variant, pixel: str) -> str | None:
            other = v.model_copy(update={"source": v.source.model_copy(update={"pixel": pixel})})
            return specs.get(other.model_dump_json(exclude={"description"}))

        out = []
        for name, v in self.variants.items():
            part = v.source.pixel
            if part == "none":
                continue
            label, slug = PIXEL_LABELS[part], re.sub(r"[^a-z0-9-]", "-", name.lower())
            if (plain := twin(v, "none")) is not None:
                out.append(Claim(id=f"refined-{slug}", a=name, b=plain,
                                 text=f"{label}-refined images beat unrefined ({name} vs {plain})"))
            if part == "mrgan" and (one := twin(v, "cyclegan")) is not None:
                out.append(Claim(id=f"two-stages-{slug}", a=name, b=one,
                                 text=f"two refinement stages beat one ({name} vs {one})"))
        return out

    @property
    def oracle_variant(self) -> str | None:
        """The target-supervised upper bound, unless `real.oracle_per_class` is 0."""
        return None if self.real.oracle_per_class == 0 else VARIANT_ORACLE

    @property
    def budget_variants(self) -> dict[str, Variant]:
        """The labeled-budget track's variants, `<method>@<b>` (`Budgets.variants`), resolved;
        before a bridged method's, its stage-1 variant `<method>@start` unless a study variant
        has the same parts (then that one's models are the start)."""
        threshold, size = self.pseudo_label.threshold, self.pseudo_label.source_size
        study = {v.model_dump_json(exclude={"description"}) for v in self.variants.values()}
        out: dict[str, Variant] = {}
        for name, v in self.budgets.variants().items():
            start = self._start(v)
            method = name.split("@")[0]
            if start is not None and start.model_dump_json(exclude={"description"}) not in study:
                out.setdefault(variant_name(method, "start"), start)
            out[name] = v.resolved(threshold, size)
        return out

    def _start(self, v: Variant) -> Variant | None:
        labels = v.target_labels
        if labels is None or labels.start is None:
            return None
        return labels.start.resolved(self.pseudo_label.threshold, self.pseudo_label.source_size)

    @property
    def trained(self) -> dict[str, Variant]:
        """Every variant the workflow trains: the study's (`variants`), then the budget track's."""
        return {**self.variants, **self.budget_variants}

    @property
    def variants(self) -> dict[str, Variant]:
        """Every variant of the study, by name, with the study's settings filled in: the
        published ones (synthetic-<size>, pseudo-label), the method variants, the oracle."""
        published = {
            **{VARIANT_SYNTHETIC.format(size=s): Variant(
                source=Source(size=s), description=f"the study's head on {s} synthetic images "
                "per class") for s in self.synthetic.sizes},
            VARIANT_PSEUDO: Variant(pseudo_labels=Threshold(), description=(
                f"the published method: pseudo-labels with confidence > "
                f"{self.pseudo_label.threshold:g} from {self.pseudo_source_variant}")),
        }
        oracle = ({self.oracle_variant: Variant(
            target_labels=TargetLabels(use="only"),
            description="the study's head on labeled real target photos (upper bound)")}
            if self.oracle_variant else {})
        threshold, size = self.pseudo_label.threshold, self.pseudo_label.source_size
        return {name: v.resolved(threshold, size)
                for name, v in {**published, **self.methods.variants, **oracle}.items()}

    def trained_as(self, name: str) -> str:
        """The variant whose job trains `name`'s models: the first variant with the same fit
        (`Variant.fit`) -- `name` itself, or one whose models it evaluates on other features."""
        fit = self.trained[name].fit()
        return next(n for n, v in self.trained.items() if v.fit() == fit)

    def labelled_by(self, name: str) -> str | None:
        """The source-only variant whose models give `name`'s first pseudo-labels (None when
        `name` takes no pseudo-labels, or the study trains no such model)."""
        v = self.trained[name]
        if v.pseudo_labels is None:
            return None
        fit = v.source_model().resolved(self.pseudo_label.threshold, v.source.size).fit()
        return next((n for n, u in self.variants.items() if u.fit() == fit), None)

    def started_from(self, name: str) -> str | None:
        """The stage-1 variant whose models bridged transfer `name` continues (None: not bridged):
        the study variant with the same parts, else the track's `<method>@start`."""
        start = self._start(self.trained[name])
        if start is None:
            return None
        spec = start.model_dump_json(exclude={"description"})
        return next((n for n, v in self.trained.items()
                     if v.model_dump_json(exclude={"description"}) == spec),
                    variant_name(name.split("@")[0], "start"))

    def training_job(self, name: str) -> str:
        """The training job that makes variant `name`'s models: one job per kind of work and
        pair of feature kinds, so that each job loads its features once, trains its models in
        as few batched passes as their parts allow, and waits only for its own feature passes.

        kind: `heads` (the study's head, no pool), `shared` (an earlier variant's models,
        evaluated on other features), `pseudo-labels`, `bridged`, or the pool trainer's name
        (mcc, coral, im, dann); e.g. `pseudo-labels.aligned.adabn`, `bridged.block.block`.
        The budget track's variants have jobs of their own (`budget-` first), so that the
        study's summary never waits for them.
        """
        v = self.trained[name]
        if self.trained_as(name) != name:
            kind = "shared"
        elif v.pseudo_labels is not None:
            kind = "pseudo-labels"
        elif self.started_from(name):
            kind = "bridged"
        elif v.ensemble is not None:
            kind = "ensemble"
        else:
            kind = "heads" if v.trainer.kind == "head" else v.trainer.kind
        kinds = v.feature_kinds
        track = "budget-" if "@" in name else ""
        return f"{track}{kind}.{kinds['source']}.{kinds['pool']}"

    def job_inputs(self, members: list[str]) -> JobInputs:
        """What a training job of `members` reads beyond its image sets (the rule's inputs)."""
        labellers = {v: self.labelled_by(v) for v in members if self.labelled_by(v)}
        shares = {v: self.trained_as(v) for v in members if self.trained_as(v) != v}
        starts = {v: self.started_from(v) for v in members if self.started_from(v)}
        variants = [self.trained[v] for v in members]
        ensembles = {v: list(self.trained[v].ensemble.members) for v in members
                     if self.trained[v].ensemble is not None}
        return JobInputs(
            labellers=labellers, shares=shares, starts=starts, ensembles=ensembles,
            draws=any(v.target_labels is not None and v.target_labels.per_class is not None
                      for v in variants),
            backbone=variants[0].feature_kinds["source"] == "block",
            budget_track=all("@" in v for v in members))

    def training_jobs(self) -> dict[str, list[str]]:
        """Training job -> its variants (in variant order); jobs in order of their first variant."""
        jobs: dict[str, list[str]] = {}
        for name in self.trained:
            jobs.setdefault(self.training_job(name), []).append(name)
        return jobs

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


def _key(loc: tuple, raw: Any) -> str:
    """The dotted config key of an error location: the location walked through the raw
    config, leaving out the tag pydantic adds after a tagged union (the `kind` of the value
    there: `trainer.mcc.temperature` is the key `trainer.temperature`)."""
    keys, node, tagged = [], raw, None
    for part in loc:
        if isinstance(node, dict) and node.get("kind") == part and tagged is not node:
            tagged = node  # the tag comes once, before the keys of the value it tags
            continue
        keys.append(str(part))
        if isinstance(node, dict) and part in node or isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None  # a missing key, or inside a value given in short form
    return ".".join(keys)


def _format_error(err: ValidationError, raw: Any) -> str:
    lines = []
    for e in err.errors():
        key = _key(e["loc"], raw)
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check spelling; every key is listed in config/paper.yaml)"
        value = e.get("input")
        if e["type"] == "union_tag_invalid" and isinstance(value, dict):
            msg = f"unknown kind {e['ctx']['tag']!r}; {e['ctx']['expected_tags']} allowed"
            value = e["ctx"]["tag"]
        shown = "" if isinstance(value, dict) or e["type"] == "missing" else f" (got {value!r})"
        lines.append(f"  - {key or '<top level>'}: {msg}{shown}")
    return "invalid configuration:\n" + "\n".join(lines)


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
        raise ConfigError(_format_error(err, raw)) from None


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
