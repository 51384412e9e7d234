"""The labeled-budget track: how many real labeled photos the synthetic set is worth.

Each method of `budgets.methods` is a variant with a `target_labels` part; the
track trains it at every budget of `budgets.per_class` (b labeled photos per class,
or all of them), as the variant `<method>@<b>`, over all seeds. The photos are
drawn from the oracle split only (never test or target-validation photos), one
nested draw per seed (`synth2real.data.budgets`).

    budgets:
      per_class: [1, 3, 10, 30, 100, all]
      methods:
        real-only: {target_labels: only}
        bridged:   {target_labels: {use: bridged, start: {trainable: last_block}},
                    trainable: last_block}

The two studies' claims are judged on the track (`BudgetClaim`), each on the
mean accuracy over its budgets, by the study's verdict rule (`evaluation.claims`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from synth2real.config.base import Strict
from synth2real.config.variants import Variant

PerClass = int | Literal["all"]


class BudgetClaim(Strict):
    """Method `a` beats method `b`: their paired accuracy difference, averaged over `per_class`."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    text: str
    a: str
    b: str
    per_class: list[PerClass] = Field(min_length=1)


def _v(**parts: object) -> Variant:
    return Variant.model_validate(parts)


# Block models train for fewer epochs than the study's 25 on a CPU (see LastBlock).
DEFAULT_METHODS: dict[str, Variant] = {
    "real-only": _v(target_labels="only"),
    "real-only+block": _v(target_labels="only", trainable="last_block"),
    "pooled": _v(target_labels="pooled"),
    **{f"mix-1to{r}": _v(target_labels="pooled", mixing=r) for r in (1, 7, 15)},
    "bridged": _v(target_labels={"use": "bridged", "start": {"trainable": "last_block"}},
                  trainable="last_block"),
    "semi": _v(source="aligned", trainer="im", target_labels="pooled", mixing=1),
    # MrGAN's second claim: its refined synthetic images added to the real photos.
    "pooled+mrgan": _v(source={"features": "aligned", "pixel": "mrgan"}, target_labels="pooled"),
}


def default_claims(methods: dict[str, Variant]) -> list[BudgetClaim]:
    """The two studies' claims, those whose methods the track runs."""
    small: list[PerClass] = [1, 3, 10]
    claims = [
        BudgetClaim(id="bridged-beats-real-only", a="bridged", b="real-only+block", per_class=small,
                    text="bridged transfer beats fine-tuning on the few real photos alone"),
        BudgetClaim(id="bridged-beats-pooling", a="bridged", b="pooled", per_class=small,
                    text="bridged transfer beats pooling the real photos with the synthetic set"),
        BudgetClaim(id="synthetic-helps", a="mix-1to15", b="real-only", per_class=[100],
                    text="real + synthetic (1:15 per minibatch) beats real only"),
        BudgetClaim(id="mixing-ratio", a="mix-1to15", b="mix-1to1", per_class=[100],
                    text="real:synthetic 1:15 per minibatch beats 1:1 (no augmentation)"),
        BudgetClaim(id="refined-plus-real", a="pooled+mrgan", b="real-only",
                    per_class=[1, 3, 10, 30, 100],
                    text="MrGAN-refined synthetic images added to the real photos beat the "
                         "photos alone"),
    ]
    return [c for c in claims if c.a in methods and c.b in methods]


class Budgets(Strict):
    """Methods trained on b labeled real photos per class, at every budget b."""

    # Labeled photos per class, ascending; `all` = every photo of the oracle split.
    per_class: list[PerClass] = Field(default_factory=lambda: [1, 3, 10, 30, 100, "all"])
    # Method name -> its parts (target_labels without per_class: the track sets it).
    methods: dict[str, Variant] = Field(default_factory=lambda: dict(DEFAULT_METHODS))
    # The method whose curve the headline reads: the budget at which it matches the zero-label
    # models ("the synthetic set is worth N labeled photos per class").
    real_only: str = "real-only"
    # null = the two studies' claims (`default_claims`).
    claims: list[BudgetClaim] | None = None

    @model_validator(mode="after")
    def _check(self) -> Budgets:
        numbers = [b for b in self.per_class if b != "all"]
        if (numbers != sorted(set(numbers)) or any(b < 1 for b in numbers)
                or self.per_class.count("all") > 1
                or ("all" in self.per_class and self.per_class[-1] != "all")):
            raise ValueError(f"per_class must be distinct budgets >= 1, ascending, `all` last; "
                             f"got {self.per_class}")
        for name, v in self.methods.items():
            if "/" in name or "@" in name:
                raise ValueError(f"method name {name!r}: '/' and '@' are not allowed")
            if v.target_labels is None:
                raise ValueError(f"methods.{name}: a budget method trains on labeled real photos: "
                                 "give it target_labels (only, pooled or bridged)")
            if v.target_labels.per_class is not None:
                raise ValueError(f"methods.{name}.target_labels.per_class: set by the track, one "
                                 "variant per budget of budgets.per_class; leave it out")
        if self.methods and self.real_only not in self.methods:
            raise ValueError(f"real_only={self.real_only!r} is not one of the methods "
                             f"{list(self.methods)}")
        if self.methods and self.methods[self.real_only].target_labels.use != "only":
            raise ValueError(f"real_only={self.real_only!r} must train on the photos alone "
                             "(target_labels: only)")
        for claim in self.claims or []:
            for m in (claim.a, claim.b):
                if m not in self.methods:
                    raise ValueError(f"claims: {claim.id!r} names method {m!r}, not one of "
                                     f"{list(self.methods)}")
            for b in claim.per_class:
                if b not in self.per_class:
                    raise ValueError(f"claims: {claim.id!r} reads budget {b!r}, not one of "
                                     f"per_class={self.per_class}")
        ids = [c.id for c in self.claims or []]
        if len(set(ids)) != len(ids):
            raise ValueError(f"claim ids must be unique, got {ids}")
        return self

    @property
    def judged(self) -> list[BudgetClaim]:
        """The claims judged: the config's, else the studies' (those the track can judge)."""
        if self.claims is not None:
            return self.claims
        return [c for c in default_claims(self.methods)
                if all(b in self.per_class for b in c.per_class)]

    def variants(self) -> dict[str, Variant]:
        """`<method>@<b>` -> the method's parts with b photos per class, method by method."""
        return {variant_name(m, b): v.model_copy(update={"target_labels": v.target_labels.model_copy(
                    update={"per_class": None if b == "all" else b})})
                for m, v in self.methods.items() for b in self.per_class}


def variant_name(method: str, per_class: PerClass | Literal["start"]) -> str:
    """The budget track's variant of `method` at `per_class` photos per class (`start`: the
    stage-1 model of a bridged method, when no study variant has its parts)."""
    return f"{method}@{per_class}"
