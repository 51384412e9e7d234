"""The adaptation methods of issue 5 as variants: one `Spec` per variant, one runner for all.

A spec says which cached features a variant reads and how it trains:

- features: source `plain` (the study's cache) or `aligned` (source images
  brought to the target resolution, `align.py`); target `plain` or `adabn`
  (target features under re-estimated BatchNorm statistics, `adabn.py`);
- pseudo-labels: none, the confidence threshold, or class-balanced selection
  (`selection.py`), optionally after out-of-domain rejection, for one or more
  self-training rounds (every round trains a fresh head from the synthetic
  start on synthetic + the previous round's pseudo-labels);
- trainer: the study's head on the concatenation, a fixed real:synthetic
  ratio per minibatch (`mixing.py`), or DANN (`dann.py`).

Every variant starts from the same source model per seed (the head of
`synthetic-<source_size>` on its features), so variants pair seed by seed.
Nothing here reads a test label: the test set is scored only after training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from synth2real.adapt import dann, mixing, pseudo, selection
from synth2real.config import Study
from synth2real.model import head as heads

FEATURE_FILES = {
    # (domain, kind) -> cached feature file; the rule that writes it is in workflow/rules/.
    ("source", "plain"): "results/features/source.npz",
    ("source", "aligned"): "results/features/aligned/source.npz",
    ("pool", "plain"): "results/features/pool.npz",
    ("pool", "adabn"): "results/features/adabn/pool.npz",
    ("real_test", "plain"): "results/features/real_test.npz",
    ("real_test", "adabn"): "results/features/adabn/real_test.npz",
}


@dataclass(frozen=True)
class Spec:
    """Everything a method variant depends on (also its Snakemake rerun trigger)."""

    name: str
    description: str
    source: str = "plain"  # "plain" | "aligned"
    target: str = "plain"  # "plain" | "adabn"
    select: str | None = None  # None | "threshold" | "balanced"
    threshold: float = 0.51
    share: float | None = None
    rounds: int = 1
    round_select_by: str = "val_acc"
    ood_score: str | None = None
    ood_reject_share: float = 0.0
    mix_ratio: int | None = None
    trainer: str = "head"  # "head" | "dann"
    dann: dict[str, Any] = field(default_factory=dict)

    def files(self) -> dict[str, str]:
        return {"source_npz": FEATURE_FILES[("source", self.source)],
                "pool_npz": FEATURE_FILES[("pool", self.target)],
                "test_npz": FEATURE_FILES[("real_test", self.target)]}

    def params(self) -> dict[str, Any]:
        return asdict(self)


def specs(cfg: Study) -> list[Spec]:
    """The enabled method variants, in `methods.enabled` order."""
    m, t0 = cfg.methods, cfg.pseudo_label.threshold
    pl = dict(select="threshold", threshold=t0)
    bal = dict(select="balanced", threshold=t0, share=m.balanced.share)
    out: list[Spec] = []
    for key in m.enabled:
        if key == "threshold-sweep":
            out += [Spec(f"threshold-{t:g}", f"pseudo-labels with confidence > {t:g}",
                         select="threshold", threshold=t) for t in m.thresholds]
        elif key == "balanced":
            out.append(Spec("balanced", f"class-balanced pseudo-labels (top {m.balanced.share:g} "
                            "of pool/C per predicted class)", **bal))
        elif key == "self-training":
            out.append(Spec("self-training", f"up to {m.self_training.rounds} self-training rounds, "
                            f"round chosen by {m.self_training.select_by}", **pl,
                            rounds=m.self_training.rounds,
                            round_select_by=m.self_training.select_by))
        elif key == "ood-rejection":
            out.append(Spec(f"ood-{m.ood.score}", f"drop the {m.ood.reject_share:g} most "
                            f"out-of-domain pool images ({m.ood.score}) before pseudo-labeling",
                            **pl, ood_score=m.ood.score, ood_reject_share=m.ood.reject_share))
        elif key == "adabn":
            out.append(Spec("adabn", "target features with BatchNorm statistics of the pool",
                            target="adabn"))
        elif key == "adabn+pl":
            out.append(Spec("adabn+pl", "AdaBN target features + pseudo-labels", target="adabn", **pl))
        elif key == "dann":
            out.append(Spec("dann", "DANN bottleneck on the frozen features", trainer="dann",
                            dann=m.dann.model_dump()))
        elif key == "align":
            out.append(Spec("align", "source images at the target resolution", source="aligned"))
        elif key == "align+pl":
            out.append(Spec("align+pl", "resolution alignment + pseudo-labels", source="aligned", **pl))
        elif key == "align+balanced":
            out.append(Spec("align+balanced", "resolution alignment + class-balanced pseudo-labels",
                            source="aligned", **bal))
        elif key == "align+dann":
            out.append(Spec("align+dann", "resolution alignment + DANN", source="aligned",
                            trainer="dann", dann=m.dann.model_dump()))
        elif key == "align+adabn+dann":
            out.append(Spec("align+adabn+dann", "resolution alignment + AdaBN + DANN",
                            source="aligned", target="adabn", trainer="dann",
                            dann=m.dann.model_dump()))
        elif key == "align+adabn":
            out.append(Spec("align+adabn", "resolution alignment + AdaBN", source="aligned",
                            target="adabn"))
        elif key == "align+adabn+pl":
            out.append(Spec("align+adabn+pl", "resolution alignment + AdaBN + pseudo-labels",
                            source="aligned", target="adabn", **pl))
        elif key == "align+adabn+balanced":
            out.append(Spec("align+adabn+balanced", "resolution alignment + AdaBN + "
                            "class-balanced pseudo-labels", source="aligned", target="adabn", **bal))
        elif key == "mixing":
            out += [Spec(f"mix-1to{r}", f"pseudo-labels, real:synthetic = 1:{r} per minibatch",
                         **pl, mix_ratio=r) for r in m.mixing.ratios]
        else:  # config validation lists the allowed keys; a new one must be wired here
            raise AssertionError(f"method key {key!r} has no spec")
    return out


def variant_names(cfg: Study) -> list[str]:
    return [s.name for s in specs(cfg)]


def spec_of(cfg: Study, name: str) -> Spec:
    for s in specs(cfg):
        if s.name == name:
            return s
    raise KeyError(f"{name!r} is not an enabled method variant; enabled: {variant_names(cfg)}")


# --------------------------------------------------------------- running ---


@dataclass
class Data:
    """Cached features of one variant's feature spaces; pool labels for diagnostics only."""

    train: tuple[np.ndarray, np.ndarray]  # source train (X [N, D], y [N])
    val: tuple[np.ndarray, np.ndarray]  # source val: the model-selection signal
    pool: np.ndarray  # unlabeled real pool [P, D]
    pool_true: list[str]  # diagnostics only
    pool_in_domain: list[int]  # diagnostics only
    test: tuple[np.ndarray, np.ndarray]  # real test: scored after training, never selected on


@dataclass
class Result:
    model: torch.nn.Module
    train_set: tuple[np.ndarray, np.ndarray]
    extra: dict[str, Any]


def logits_of(model: torch.nn.Module, X: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return model.eval()(torch.from_numpy(np.ascontiguousarray(X, np.float32))).numpy()


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def mean_entropy(probs: np.ndarray) -> float:
    return float(-(probs * np.log(np.clip(probs, 1e-12, 1))).sum(1).mean())


def accuracy(model: torch.nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    return float((logits_of(model, X).argmax(1) == y).mean())


def pseudo_label(spec: Spec, model: torch.nn.Module, data: Data,
                 classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(pool indices, labels, diagnostics) of `model`'s pseudo-labels under `spec`."""
    logits = logits_of(model, data.pool)
    probs = softmax(logits)
    candidates = None
    extra: dict[str, Any] = {}
    if spec.ood_score:
        candidates = selection.in_domain(logits, spec.ood_score, spec.ood_reject_share)
        plain_idx, plain_labels = selection.threshold(probs, spec.threshold)
        plain = pseudo.diagnostics(plain_idx, plain_labels, data.pool_true, data.pool_in_domain, classes)
        ind = np.asarray(data.pool_in_domain, bool)
        rejected = np.setdiff1d(np.arange(len(probs)), candidates)
        extra = {"ood_score": spec.ood_score, "rejected": len(rejected),
                 "ood_rejected": int((~ind[rejected]).sum()),
                 "ood_accepted_without_rejection": plain["ood_accepted"],
                 "ood_accepted_share_without_rejection": plain["ood_accepted_share"]}
    if spec.select == "balanced":
        idx, labels = selection.balanced(probs, spec.share, spec.threshold, candidates)
    else:
        idx, labels = selection.threshold(probs, spec.threshold, candidates)
    diag = pseudo.diagnostics(idx, labels, data.pool_true, data.pool_in_domain, classes)
    return idx, labels, {"threshold": spec.threshold, "selection": spec.select, **diag, **extra}


def _fit(spec: Spec, Xs: np.ndarray, ys: np.ndarray, Xp: np.ndarray, yp: np.ndarray,
         n_classes: int, cfg: Study, seed: int) -> tuple[torch.nn.Module, tuple[np.ndarray, np.ndarray]]:
    X, y = np.concatenate([Xs, Xp]), np.concatenate([ys, yp])
    if spec.mix_ratio is not None:
        head, _ = mixing.train_head_mixed(Xs, ys, Xp, yp, spec.mix_ratio, n_classes, cfg.train, seed)
    else:
        head, _ = heads.train_head(X, y, n_classes, cfg.train, seed)
    return head, (X, y)


def run(spec: Spec, data: Data, cfg: Study, seed: int) -> Result:
    """Train variant `spec` for one seed on `data`; the returned model maps features to logits."""
    n_classes = len(cfg.classes)
    Xs, ys = data.train
    if spec.trainer == "dann":
        net, hist = dann.train_dann(Xs, ys, data.pool, n_classes, cfg.train, cfg.methods.dann, seed)
        return Result(net, data.train, {"dann": {"final_lambda": hist.lam[-1],
                                                 "domain_loss": hist.domain_loss,
                                                 "class_loss": hist.class_loss}})
    model, _ = heads.train_head(Xs, ys, n_classes, cfg.train, seed)  # the source model
    train_set = data.train
    if spec.select is None:
        return Result(model, train_set, {})
    rounds = []
    candidates = []
    for r in range(1, spec.rounds + 1):
        idx, labels, diag = pseudo_label(spec, model, data, cfg.classes)
        if len(idx) == 0:
            raise ValueError(f"{spec.name}: no pool image was pseudo-labeled in round {r}; "
                             "lower the threshold")
        model, train_set = _fit(spec, Xs, ys, data.pool[idx], labels, n_classes, cfg, seed)
        probs = softmax(logits_of(model, data.pool))
        rounds.append({"round": r, "val_acc": accuracy(model, *data.val),
                       "pool_entropy": mean_entropy(probs), "pseudo_label": diag})
        candidates.append((model, train_set))
    key = (lambda i: -rounds[i]["val_acc"]) if spec.round_select_by == "val_acc" else \
        (lambda i: rounds[i]["pool_entropy"])
    best = min(range(len(rounds)), key=key)  # ties: the earliest round
    model, train_set = candidates[best]
    extra: dict[str, Any] = {"pseudo_label": rounds[best]["pseudo_label"]}
    if spec.rounds > 1:
        extra["self_training"] = {"chosen_round": best + 1, "select_by": spec.round_select_by,
                                  "rounds": rounds}
    return Result(model, train_set, extra)


def representation(result: Result, X: np.ndarray) -> np.ndarray:
    """The features a variant's classifier reads: DANN's bottleneck, else the cached features."""
    if isinstance(result.model, dann.DannNet):
        return dann.embed(result.model, X)
    return X
