"""How results are judged: test-set intervals, model selection without test labels, claim verdicts.

Two kinds of interval are reported. *Seed* intervals (Student-t over the
training seeds) say how much a number moves when only the training seed
changes, on one fixed test set. *Bootstrap* intervals resample the training
seeds and the test images jointly, so they also carry the sampling noise of a
finite test set (about ±1.7 points at 62 % on 3000 photos). Paired
comparisons use the same resamples for both sides.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from synth2real.config.base import Strict

# Model-selection criteria: name -> (higher is better, what it reads, description).
# Every one is computed per trained model without the test set; only
# `target_val_acc` reads labels of real images, and only those of the small
# target-validation split (disjoint from test and pool).
CRITERIA: dict[str, tuple[bool, str, str]] = {
    "source_val_acc": (True, "labeled source val",
                       "accuracy on the held-out synthetic validation split"),
    "pool_entropy": (False, "unlabeled pool",
                     "mean prediction entropy on the unlabeled pool (lower is better)"),
    "pool_im": (True, "unlabeled pool",
                ("information maximisation on the pool: entropy of the mean prediction minus "
                "the mean prediction entropy")),
    "snd": (True, "unlabeled pool",
            ("soft neighbourhood density (Saito et al. 2021) of the pool's predictions, "
            "temperature 0.05")),
    "ensv": (True, "unlabeled pool",
             ("EnsV (Hu et al. 2024): agreement of the candidate's pool predictions with the "
              "averaged prediction of every candidate")),
    "mixval": (True, "unlabeled pool",
               ("MixVal (Hu et al. 2023): accuracy on pool inputs mixed 0.55:0.45 in the cached "
                "feature space (features mixed, not pixels) against the first image's "
                "pseudo-label, mean of intra- and inter-class pairs")),
    "dev": (False, "labeled source val + unlabeled pool",
            ("DEV (You et al. 2019): source val loss weighted by the pool/source density "
             "ratio of a logistic domain classifier in the model's representation, with its "
             "control variate (lower is better)")),
    "target_val_acc": (True, "labeled target val",
                       "accuracy on the small labeled target-validation split"),
}
Criterion = Literal["source_val_acc", "pool_entropy", "pool_im", "snd", "ensv", "mixval", "dev",
                    "target_val_acc"]


class Bootstrap(Strict):
    # Joint resamples of (training seeds, test images); percentile intervals.
    resamples: int = Field(2000, ge=100)
    seed: int = 0
    level: float = Field(0.95, gt=0.5, lt=1)


class Claim(Strict):
    """A claim of the study: variant `a` beats variant `b` on `metric`."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    text: str
    a: str
    b: str
    # test_acc: a has the higher real-test accuracy. overfit_gap: a has the smaller
    # train - test accuracy gap (less overfitting to the synthetic images).
    metric: Literal["test_acc", "overfit_gap"] = "test_acc"


def published_claims(small: str, large: str, source: str, pseudo: str) -> list[Claim]:
    """The study's three claims, for its variant names (synthetic-<size>, pseudo-label)."""
    n = {v: v.removeprefix("synthetic-") for v in (small, large, source)}
    more_data = [Claim(id="more-data", text=f"{n[large]} synthetic images per class beat {n[small]}",
                       a=large, b=small)] if small != large else []
    return [
        *more_data,
        Claim(id="pseudo-labels",
              text=f"pseudo-labelling beats {n[source]} synthetic images per class",
              a=pseudo, b=source),
        Claim(id="less-overfitting",
              text="adaptation balances train and test accuracy (less overfitting)",
              a=pseudo, b=source, metric="overfit_gap"),
    ]


class Claims(Strict):
    # Verdict rule, on the claimed effect d (positive = in the claimed direction) and its
    # interval [lo, hi]: reproduced when lo > 0; not reproduced when hi < margin (any
    # effect in the claimed direction is smaller than `margin`); inconclusive otherwise.
    margin: float = Field(0.01, ge=0)
    # Which interval decides: bootstrap (seeds and test images) or seeds (Student-t).
    interval: Literal["bootstrap", "seeds"] = "bootstrap"
    # null = the study's three published claims (see `published_claims`).
    items: list[Claim] | None = None

    @model_validator(mode="after")
    def _unique(self) -> Claims:
        ids = [c.id for c in self.items or []]
        if len(set(ids)) != len(ids):
            raise ValueError(f"claim ids must be unique, got {ids}")
        return self


class Evaluation(Strict):
    bootstrap: Bootstrap = Bootstrap()
    # The criterion that picks the deployed adapted model (never test accuracy).
    deploy_criterion: Criterion = "target_val_acc"
    # The variants model selection chooses among (and EnsV averages); null = every label-free
    # variant of the study.
    candidates: list[str] | None = Field(None, min_length=2)
    # The claim on the deployed adapted model: it closes at least this share of the
    # source-only -> oracle gap (judged by the claims' rule on its gap-closure interval);
    # null = no such claim.
    deploy_gap_share: float | None = Field(0.7, gt=0, le=1)
    claims: Claims = Claims()
