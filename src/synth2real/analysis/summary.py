"""Aggregating per-seed metrics into the study's summary (`summary.json`).

Schema (fractions in [0, 1]):

    {"classes": [...], "seeds": [...], "config_hash": ..., "git_commit": ...,
     "reported": {variant: {"train_acc", "val_acc", "test_acc"}},
     "variants": {variant: {
        "train_acc" | "val_acc" | "test_acc": {"mean", "std", "ci95": [lo, hi], "per_seed": {seed: value}},
        "per_class_test_acc": {class: {"mean", "std", "per_seed"}},
        "confusion": {"total": [[...]], "per_seed": {seed: [[...]]}},   # rows: true class
        "pseudo_label": {... per-seed diagnostics and their means},     # pseudo-labeling variants
        "proxy_a_distance": {"mean", "std", "ci95", "per_seed"},        # method variants
        "method": {"description", "settings"}, "self_training": {...}   # method variants
     }},
     "comparisons": [{"a", "b", "metric": "test_acc", "mean", "std", "ci95", "per_seed",
                      "n", "p_value", "significant",                  # paired a - b per seed
                      "bootstrap": {"mean", "ci95", "p_value", "significant"}}],
     "no_test_labels": "..."}

plus, per variant, `test_acc.bootstrap` {"mean", "ci95"}, `labels` (synthetic | target),
`selection` {criterion: stat} (candidates only); and at top level
`oracle`, `source_only`, `gap_closure` {variant: {"mean", "ci95", "per_seed"}},
`intervals` (what each kind of interval means), `selection` (analysis.selection) and
`claims` (analysis.claims).

`std` is the sample standard deviation over seeds (ddof=1; 0 for one seed);
`ci95` the Student-t 95% interval of the mean (null for one seed). A
comparison is `significant` when its paired interval excludes zero. The
bootstrap resamples training seeds and test images jointly (one set of
resamples shared by every variant, so differences pair image by image).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from synth2real import provenance
from synth2real.analysis import bootstrap, claims
from synth2real.analysis.model_selection import deploy_claim, select
from synth2real.analysis.stats import describe, paired
from synth2real.config import CRITERIA, Claim, Evaluation, Roles, Study
from synth2real.data.imagesets import class_indices
from synth2real.data.manifests import read_csv
from synth2real.model.criteria import ensv
from synth2real.store import read_json, write_json

# The published single-run numbers of the study (no error bars were reported), as fractions.
REPORTED = {
    "synthetic-500": {"train_acc": 0.9917, "val_acc": 0.9933, "test_acc": 0.8455},
    "synthetic-1000": {"train_acc": 0.9919, "val_acc": 0.9958, "test_acc": 0.8743},
    "pseudo-label": {"train_acc": 0.9879, "val_acc": 0.9963, "test_acc": 0.9162},
}


NO_TEST_LABELS = (
    "No setting is chosen on test labels. Thresholds, mixing ratios, epochs and method "
    "hyperparameters are fixed in the config before the run; the self-training round is "
    "chosen per seed by synthetic validation accuracy (methods.self_training.select_by); "
    "out-of-domain rejection uses only the source model's scores on the unlabeled pool. "
    "The deployed variant is the one picked by evaluation.deploy_criterion, computed without "
    "the test set; the test-best variant serves only as the reference of each criterion's regret. "
    "The real test set is scored once, after training, for reporting."
)

INTERVALS = {
    "seed": "Seed intervals are Student-t intervals over the training seeds on the one fixed "
            "test set: they show how much a number moves when only the training seed changes.",
    "bootstrap": "Bootstrap intervals are percentile intervals of {resamples} joint resamples of "
                 "training seeds and test images: they also carry the sampling noise of a finite "
                 "test set, and paired comparisons use the same resamples for both sides.",
}


def stat(per_seed: Mapping[int, float]) -> dict[str, object]:
    """mean, std (ddof=1), Student-t ci95 and the per-seed values."""
    return describe(per_seed)


def variant_summary(metrics: Sequence[Mapping], classes: Sequence[str]) -> dict[str, object]:
    """Summary of one variant from its per-seed `metrics.json` contents."""
    by_seed = {int(m["seed"]): m for m in metrics}
    out: dict[str, object] = {
        f"{split}_acc": stat({s: m[split]["acc"] for s, m in by_seed.items()})
        for split in ("train", "val", "test")
    }
    out["per_class_test_acc"] = {
        c: stat({s: m["test"]["per_class_acc"][c] for s, m in by_seed.items()}) for c in classes
    }
    cms = {s: np.array(m["test"]["confusion"]) for s, m in by_seed.items()}
    out["confusion"] = {"total": sum(cms.values()).tolist(),
                        "per_seed": {str(s): cm.tolist() for s, cm in cms.items()}}
    diags = {s: m["pseudo_label"] for s, m in by_seed.items() if "pseudo_label" in m}
    if diags:
        numeric = ["accepted", "accepted_share", "pseudo_label_acc", "ood_accepted",
                   "ood_accepted_share", "ood_accepted_without_rejection",
                   "ood_accepted_share_without_rejection"]
        numeric = [k for k in numeric if all(k in d for d in diags.values())]
        out["pseudo_label"] = {
            "threshold": next(iter(diags.values()))["threshold"],
            **{k: stat({s: d[k] for s, d in diags.items() if d[k] is not None}) for k in numeric},
            "accepted_per_class": {
                c: stat({s: d["accepted_per_class"][c] for s, d in diags.items()}) for c in classes
            },
            "per_seed": {str(s): {k: v for k, v in d.items() if k != "source_model"}
                         for s, d in diags.items()},
        }
    priors = {s: m["prior"] for s, m in by_seed.items() if "prior" in m}
    if priors:  # the label-shift correction: estimated vs the pool's true prior (diagnostic)
        first_prior = next(iter(priors.values()))
        out["prior"] = {"kind": first_prior["kind"], **{
            k: np.mean([p[k] for p in priors.values()], 0).tolist()
            for k in ("source", "estimated", "pool_true_in_domain")}}
    pads = {s: m["proxy_a_distance"] for s, m in by_seed.items() if "proxy_a_distance" in m}
    if pads:
        out["proxy_a_distance"] = stat(pads)
    first = next(iter(by_seed.values()))
    out["labels"] = first.get("labels", "synthetic")
    out["n_train"] = first["n_train"]  # training images (synthetic + pseudo-labelled, or target)
    if "criteria" in first:
        out["criteria"] = {c: stat({s: m["criteria"][c] for s, m in by_seed.items()})
                            for c in CRITERIA}
    if "method" in first:
        settings = dict(first["method"])
        out["method"] = {"description": settings.pop("description"), "settings": settings}
    rounds = {s: m["self_training"] for s, m in by_seed.items() if "self_training" in m}
    if rounds:
        out["self_training"] = {
            "chosen_round": stat({s: r["chosen_round"] for s, r in rounds.items()}),
            "per_seed": {str(s): [{k: v for k, v in x.items() if k != "pseudo_label"}
                                  for x in r["rounds"]] for s, r in rounds.items()},
        }
    return out


@dataclass(frozen=True)
class Setup:
    """What the summary reads of the study's config: its rule's params, and nothing else."""

    study: str
    offline: bool
    classes: list[str]
    seeds: list[int]
    roles: Roles
    evaluation: Evaluation
    claims: list[Claim]

    @classmethod
    def of(cls, cfg: Study) -> Setup:
        return cls(cfg.name, cfg.bundle is not None, list(cfg.classes), list(cfg.seeds),
                   cfg.roles, cfg.evaluation, cfg.claims)

    def config_hash(self) -> str:
        return provenance.config_hash({**{k: v for k, v in asdict(self).items()
                                          if k not in ("roles", "evaluation", "claims")},
                                       "roles": self.roles, "evaluation": self.evaluation,
                                       "claims": [c.model_dump() for c in self.claims]})


def compared_pairs(cfg: Setup, variants: Sequence[str]) -> list[tuple[str, str]]:
    """(a, b) pairs whose paired difference a - b the paper discusses.

    Largest vs smallest synthetic set, pseudo-labeling vs the largest set, and
    every method variant vs the pseudo-labels' source baseline and vs pseudo-labeling.
    """
    base, published, sizes = cfg.roles.source_only, cfg.roles.published, cfg.roles.baselines
    pairs = []
    if len(sizes) > 1:
        pairs.append((sizes[-1], sizes[0]))
    pairs.append((published, base))
    for v in variants:
        if v not in (*sizes, published):
            pairs += [(v, base), (v, published)]
    return [(a, b) for a, b in pairs if a in variants and b in variants]


def comparisons(cfg: Setup, variants: Mapping[str, Mapping], correct: Mapping[str, np.ndarray],
                rs: bootstrap.Resamples) -> list[dict[str, object]]:
    out = []
    for a, b in compared_pairs(cfg, [v for v in variants if v != cfg.roles.oracle]):
        d = paired(variants[a]["test_acc"]["per_seed"], variants[b]["test_acc"]["per_seed"])
        out.append({"a": a, "b": b, "metric": "test_acc", **d,
                    "bootstrap": bootstrap.paired(correct[a], correct[b], rs)})
    return out


def correctness(metrics: Sequence[Mapping], seeds: Sequence[int], y: np.ndarray) -> np.ndarray:
    """[S, N] booleans: seed s's model got test image i right (seeds in config order)."""
    by_seed = {int(m["seed"]): np.asarray(m["test"]["pred"]) for m in metrics}
    return np.stack([by_seed[s] == y for s in seeds])


def candidates_of(cfg: Setup, metrics_by_variant: Mapping[str, Sequence[Mapping]]) -> list[str]:
    """The variants model selection chooses among: `evaluation.candidates`, else every variant
    scored on the criteria (every label-free one)."""
    scored = [v for v, ms in metrics_by_variant.items() if "criteria" in ms[0]]
    chosen = cfg.evaluation.candidates
    if chosen is None:
        return scored
    missing = [v for v in chosen if v not in scored]
    if missing:
        raise ValueError(f"evaluation.candidates: {missing} are not label-free variants of this "
                         f"study; candidates must be among {scored}")
    return list(chosen)


def add_ensv(metrics_by_variant: Mapping[str, Sequence[Mapping]], candidates: Sequence[str],
             seeds: Sequence[int]) -> None:
    """Each candidate's EnsV score per seed (`criteria.ensv` over the candidates' models of
    that seed), written into its metrics' criteria; a label-free variant outside the candidate
    set is scored against the same ensemble."""
    by_seed = {v: {int(m["seed"]): m for m in ms} for v, ms in metrics_by_variant.items()
               if "criteria" in ms[0]}
    for s in seeds:
        probs = {v: np.asarray(by_seed[v][s]["pool_probs"]) for v in by_seed}
        scores = ensv(probs, candidates)
        for v in by_seed:
            by_seed[v][s]["criteria"]["ensv"] = scores[v]


def build(cfg: Setup, metrics_by_variant: Mapping[str, Sequence[Mapping]],
          y_test: np.ndarray) -> dict[str, object]:
    candidates = candidates_of(cfg, metrics_by_variant)
    add_ensv(metrics_by_variant, candidates, cfg.seeds)
    variants = {v: variant_summary(ms, cfg.classes) for v, ms in metrics_by_variant.items()}
    correct = {v: correctness(ms, cfg.seeds, y_test) for v, ms in metrics_by_variant.items()}
    boot = cfg.evaluation.bootstrap
    rs = bootstrap.draw(len(cfg.seeds), len(y_test), boot)
    for v, s in variants.items():
        s["test_acc"]["bootstrap"] = bootstrap.describe(correct[v], rs)
    source, oracle = cfg.roles.source_only, cfg.roles.oracle
    gap = None  # also when the oracle does not beat source-only: the ratio has no scale
    if oracle in variants and correct[oracle].mean() > correct[source].mean():
        gap = {v: bootstrap.gap_closure(correct[v], correct[source], correct[oracle], rs)
               for v in variants if v != oracle}
    selection = select(variants, candidates, correct, rs, cfg.evaluation.deploy_criterion, gap)
    share = cfg.evaluation.deploy_gap_share
    deployed = [] if share is None or gap is None else [
        deploy_claim(selection, share, cfg.evaluation.claims, boot.level)]
    return {
        "study": cfg.study,
        "classes": list(cfg.classes),
        "seeds": list(cfg.seeds),
        "config_hash": cfg.config_hash(),
        "git_commit": provenance.git_commit(),
        "offline": cfg.offline,
        "reported": {v: REPORTED[v] for v in metrics_by_variant if v in REPORTED},
        "baseline": source,
        # The published study's variants (Table I, bar chart, confusion matrices).
        "core_variants": [v for v in (*cfg.roles.baselines, cfg.roles.published) if v in variants],
        "variants": variants,
        "oracle": oracle if oracle in variants else None,
        "source_only": source,
        "gap_closure": gap,
        "comparisons": comparisons(cfg, variants, correct, rs),
        "intervals": {**{k: t.format(resamples=boot.resamples) for k, t in INTERVALS.items()},
                      "resamples": boot.resamples, "level": boot.level},
        "model_selection": selection,
        "claims": claims.evaluate(cfg.evaluation.claims, correct,
                                  {v: s["train_acc"]["per_seed"] for v, s in variants.items()},
                                  {v: s["test_acc"]["per_seed"] for v, s in variants.items()}, rs,
                                  items=cfg.claims) + deployed,
        "no_test_labels": NO_TEST_LABELS,
    }


def summarize(metrics: list[str], real_test: str, summary: str, *, study: str, offline: bool,
              classes: list[str], seeds: list[int], variants: list[str], roles: Roles,
              evaluation: Evaluation, claims: list[Claim]) -> None:
    """Stage: every model's metrics.json (`metrics`: variant by variant in `variants` order,
    seed by seed within each) and the real-test manifest (its labels, in the order of every
    model's `test.pred`) -> the study's summary."""
    if len(metrics) != len(variants) * len(seeds):
        raise ValueError(f"{len(metrics)} metrics files for {len(variants)} variants x "
                         f"{len(seeds)} seeds")
    n = len(seeds)
    loaded = {v: [read_json(p) for p in metrics[i * n:(i + 1) * n]] for i, v in enumerate(variants)}
    y = class_indices([r["label"] for r in read_csv(real_test)], classes, real_test)
    setup = Setup(study, offline, classes, seeds, roles, evaluation, claims)
    write_json(build(setup, loaded, y), summary)
