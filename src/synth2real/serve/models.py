"""The three exported models a demo serves, described by the run's model card (`card.json`).

`load_models(models_dir)` reads `card.json` (which model is which role, its
accuracy with interval, how many labeled real photos it trained on and was chosen
on, the target domain, whether adaptation helps) and opens
the three ONNX files it names with the deploy-side `Predictor`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synth2real.predict import Predictor

# The roles, in the order the page shows them.
ROLES = ("baseline", "study", "adapted")
TITLES = {"baseline": "Baseline", "study": "Study", "adapted": "Adapted"}
WHAT = {
    "baseline": "trained on the source images only",
    "study": "the published pseudo-label method",
    "adapted": "the adaptation chosen without test labels",
}
# How the files are made, named in every "not found" error.
MAKE_MODELS = "run the study first (`make reproduce`, whose export step writes models/) or pass --models <dir>"
CARD_KEYS = ("classes", "target_domain", "target_side_px", "models", "differences",
             "adaptation_helps")
MODEL_KEYS = ("variant", "test_accuracy", "test_accuracy_ci", "onnx")


@dataclass(frozen=True)
class ModelInfo:
    """One served model as the page and the API describe it."""

    role: str
    variant: str
    seed: int | None
    selection_criterion: str | None
    test_accuracy: float
    test_accuracy_ci: tuple[float, float]
    test_images: int | None
    onnx: str
    providers: list[str]
    # Labeled real photos the model trained on, and those read to choose it (None: a card
    # from before the count).
    real_labels: int | None = None
    selection_real_labels: int | None = None

    def as_dict(self) -> dict[str, Any]:
        d = dict(vars(self))
        d["test_accuracy_ci"] = list(self.test_accuracy_ci)
        return d


@dataclass(frozen=True)
class Models:
    """The card's facts and the three loaded predictors (keyed by role)."""

    predictors: dict[str, Predictor]
    info: dict[str, ModelInfo]
    classes: list[str]
    target_domain: str
    target_side: int  # median shorter side (px) of the target domain's photos
    deploy_criterion: str | None
    differences: dict[str, dict[str, Any]]
    adaptation_helps: bool
    interval: str | None  # what the intervals are over, in words
    # The adapted variant's share of the source-only -> oracle gap (over seeds) and the claim.
    gap_closure: dict[str, Any] | None = None
    deployed_claim: dict[str, Any] | None = None


def read_card(models_dir: Path) -> dict[str, Any]:
    """`<models_dir>/card.json`, checked for the keys the page needs."""
    path = models_dir / "card.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (the model card the demo reads): {MAKE_MODELS}")
    try:
        card = json.loads(path.read_text())
    except ValueError as e:
        raise ValueError(f"{path}: not valid JSON ({e}); re-export the models") from None
    missing = [k for k in CARD_KEYS if k not in card]
    missing += [f"models.{r}" for r in ROLES if r not in card.get("models", {})]
    missing += [f"models.{r}.{k}" for r in ROLES for k in MODEL_KEYS
                if r in card.get("models", {}) and k not in card["models"][r]]
    if missing:
        raise ValueError(f"{path}: missing {', '.join(missing)}; re-export the models")
    return card


def load_models(models_dir: str | Path, providers: Sequence[str] | None = None,
                threads: int | None = None) -> Models:
    """Read the card, open the three models it names; every missing file is named at once."""
    models_dir = Path(models_dir)
    card = read_card(models_dir)
    files = {r: models_dir / card["models"][r]["onnx"] for r in ROLES}
    missing = [str(f) for f in files.values() if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"{', '.join(missing)} not found (named in "
                                f"{models_dir / 'card.json'}): {MAKE_MODELS}")
    predictors = {r: Predictor(files[r], providers, threads=threads) for r in ROLES}
    for role, p in predictors.items():
        if p.class_names != card["classes"]:
            raise ValueError(f"{files[role]}: classes {p.class_names} differ from the card's "
                             f"{card['classes']}; re-export the models")
    info = {}
    for r in ROLES:
        m = card["models"][r]
        lo, hi = m["test_accuracy_ci"]
        info[r] = ModelInfo(r, m["variant"], m.get("seed"), m.get("selection_criterion"),
                            float(m["test_accuracy"]), (float(lo), float(hi)),
                            m.get("test_images"), files[r].name, list(predictors[r].providers),
                            m.get("real_labels"), m.get("selection_real_labels"))
    return Models(predictors, info, list(card["classes"]), str(card["target_domain"]),
                  round(card["target_side_px"]), card.get("deploy_criterion"),
                  dict(card["differences"]), bool(card["adaptation_helps"]), card.get("interval"),
                  card["models"]["adapted"].get("gap_closure"), card.get("deployed_claim"))
