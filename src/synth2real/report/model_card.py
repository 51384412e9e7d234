"""The published models: which three are deployed, how good each is, and their card.

Three roles share one ONNX contract:

    baseline  the pseudo-label source model (synthetic-<source_size>)     "source-only"
    study     the published method (pseudo-label)                         "published method"
    adapted   the variant `evaluation.deploy_criterion` picked, without test labels
              (the summary's `selection`)                                 the criterion's name

Two stages, around the export:

* `deploy_selection` (before export): roles -> variants, and for the export seed's
  model of each role its real-test accuracy with a 95% bootstrap interval over test
  images, plus the paired differences adapted - baseline and study - baseline, and how
  many labeled real photos each used: in training (`real_labels`, from its metrics: 0,
  every deployed model is label-free) and to be chosen (`selection_real_labels`: the
  target-validation photos when the deploy criterion reads them, else 0).
  The export embeds these in each file's metadata. Only test images are resampled
  (one trained model per role): `analysis.bootstrap` with a single seed, the same
  resampling code as every other interval of the study, so this stays in the
  report layer, which may import analysis (the model layer may not).
* `model_card` (after export passed parity): `models/card.json`, read by the demo
  (keys: classes, target_domain, image_size, deploy_criterion, models (each with
  real_labels and selection_real_labels), differences, adaptation_helps), and
  `models/README.md`, the model card, both from the run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from synth2real.analysis import bootstrap
from synth2real.analysis.budgets import real_labels
from synth2real.config import (
    CRITERIA,
    VARIANT_PSEUDO,
    Backbone,
    Evaluation,
    Export,
    RealData,
    SyntheticData,
)
from synth2real.data.imagesets import class_indices
from synth2real.data.manifests import read_csv, typical_side
from synth2real.errors import DataError
from synth2real.report.text import pct, write_texts
from synth2real.store import read_json, write_json

ROLES = ("baseline", "study", "adapted")
SOURCE_ONLY, PUBLISHED = "source-only", "published method"
DATASETS = {"cifar10": "CIFAR-10", "stl10": "STL-10"}


def target_domain(real: RealData, classes: Sequence[str], side: float) -> str:
    """A plain sentence: which real photos the models were adapted to and scored on."""
    src = real.source
    origin = (DATASETS[src.kind] if src.kind in DATASETS
              else f"the image folder '{Path(src.root).name}'")
    return (f"Real photos of {', '.join(classes)} from {origin}, {side:.0f} px on the shorter "
            f"side (median): the unlabeled photos used for adaptation and the labeled test "
            f"photos both come from this collection.")


def pick_roles(selection: Mapping, baseline: str) -> dict[str, dict[str, str]]:
    """role -> {"variant", "selection_criterion"}, from the summary's `selection`."""
    criterion = selection["deploy_criterion"]
    return {"baseline": {"variant": baseline, "selection_criterion": SOURCE_ONLY},
            "study": {"variant": VARIANT_PSEUDO, "selection_criterion": PUBLISHED},
            "adapted": {"variant": selection["criteria"][criterion]["variant"],
                        "selection_criterion": criterion}}


def role_numbers(correct: Mapping[str, np.ndarray], rs: bootstrap.Resamples) -> dict[str, object]:
    """Accuracy with interval per role and the paired differences to the baseline.

    `correct[role]` is [1, N] (one model, N test images); `rs` resamples one seed.
    """
    acc = {r: bootstrap.describe(c, rs) for r, c in correct.items()}
    diffs = {r: {"vs": "baseline", **_diff(bootstrap.paired(correct[r], correct["baseline"], rs))}
             for r in ("adapted", "study")}
    return {"accuracy": acc, "differences": diffs,
            "adaptation_helps": bool(diffs["adapted"]["ci"][0] > 0)}


def _diff(d: Mapping) -> dict[str, object]:
    return {"diff": float(d["mean"]), "ci": list(d["ci95"]), "p_value": d["p_value"]}


def selection_labels(criterion: str, target_labeled: str) -> int:
    """Labeled real photos a model-selection criterion reads: the target-validation split of
    the `target_labeled` manifest for a criterion on labeled target photos, else none."""
    if not CRITERIA[criterion][1].startswith("labeled target"):
        return 0
    return sum(1 for r in read_csv(target_labeled) if r["split"] == "val")


def deploy_selection(summary: str, real_test: str, target_labeled: str, metrics: list[str],
                     deploy: str, *, candidates: list[str], baseline: str, classes: list[str],
                     real: RealData, evaluation: Evaluation, export: Export) -> None:
    """Stage: the three deployed roles and their numbers (`metrics` in `candidates` order,
    each the export seed's metrics.json of that variant; `target_labeled` the manifest whose
    validation photos the deploy criterion may read)."""
    summary_path, summary = summary, read_json(summary)
    if summary["model_selection"]["deploy_criterion"] != evaluation.deploy_criterion:
        raise DataError(f"{summary_path} was built with deploy criterion "
                        f"{summary['model_selection']['deploy_criterion']!r}, the config says "
                        f"{evaluation.deploy_criterion!r}: rerun the summary rule")
    roles = pick_roles(summary["model_selection"], baseline)
    by_variant = dict(zip(candidates, metrics, strict=True))
    rows = read_csv(real_test)
    y = class_indices([r["label"] for r in rows], classes, real_test)
    correct, labels = {}, {}
    for role, entry in roles.items():
        if entry["variant"] not in by_variant:
            raise DataError(f"the {role} model's variant {entry['variant']!r} is not among the "
                            f"export candidates {candidates}")
        m = read_json(by_variant[entry["variant"]])
        pred = np.asarray(m["test"]["pred"])
        if int(m["seed"]) != export.seed or len(pred) != len(y):
            raise DataError(f"{by_variant[entry['variant']]}: seed {m['seed']} with {len(pred)} "
                            f"test predictions; expected seed {export.seed} and {len(y)} "
                            f"(rows of {real_test}); rerun its training rule")
        correct[role] = (pred == y)[None, :]
        labels[role] = real_labels([m], [by_variant[entry["variant"]]])
    crit = summary["model_selection"]["deploy_criterion"]
    chosen_on = {"baseline": 0, "study": 0, "adapted": selection_labels(crit, target_labeled)}
    boot = evaluation.bootstrap
    nums = role_numbers(correct, bootstrap.draw(1, len(y), boot))
    models = {role: {**entry, "seed": export.seed,
                     "test_accuracy": nums["accuracy"][role]["mean"],
                     "test_accuracy_ci": nums["accuracy"][role]["ci95"], "test_images": len(y),
                     "real_labels": labels[role], "selection_real_labels": chosen_on[role]}
              for role, entry in roles.items()}
    # The adapted variant over every seed: its share of the source-only -> oracle gap, and
    # the claim on it (the summary's, judged by the study's rule).
    gap = (summary.get("gap_closure") or {}).get(roles["adapted"]["variant"])
    if gap is not None:
        models["adapted"]["gap_closure"] = {"mean": gap["mean"], "ci95": gap.get("ci95"),
                                            "seeds": len(summary["seeds"])}
    claim = next((c for c in summary.get("claims") or [] if c["id"] == "deployed-choice"), None)
    side = typical_side([r["path"] for r in rows])["median_side"]
    write_json({
        "study": summary["study"], "classes": list(classes),
        "target_domain": target_domain(real, classes, side), "target_side_px": side,
        "deploy_criterion": crit,
        "deploy_criterion_description": summary["model_selection"]["criteria"][crit]["description"],
        "interval": (f"{boot.level:.0%} percentile bootstrap over the {len(y)} test images "
                     f"({boot.resamples} resamples, paired across models); one model per role "
                     f"(seed {export.seed})"),
        "models": models, "differences": nums["differences"],
        "adaptation_helps": nums["adaptation_helps"],
        "deployed_claim": None if claim is None else {
            "text": claim["text"], "verdict": claim["verdict"],
            "share": evaluation.deploy_gap_share},
    }, deploy)


def model_card_json(deploy: Mapping, parity: Mapping, onnx_names: Mapping[str, str]) -> dict[str, object]:
    """models/card.json: the deploy file plus what the export established (file, size, parity)."""
    models = {}
    for role in ROLES:
        check = parity["models"][role]
        models[role] = {**deploy["models"][role], "onnx": onnx_names[role],
                        "parity_max_abs_logit_diff": check["max_abs_logit_diff"]}
    return {**{k: v for k, v in deploy.items() if k != "models"}, "image_size": parity["image_size"],
            "models": models, "git_commit": parity["git_commit"]}


def weights_terms(backbone: Backbone) -> str:
    """Where the backbone weights come from and under which terms."""
    w = backbone.weights
    if w.kind == "torchvision":
        return (f"torchvision's MobileNetV2 ImageNet weights (`{w.name}`), distributed with "
                f"torchvision under the BSD-3-Clause licence; they were trained on ImageNet, whose "
                f"terms allow non-commercial research and educational use.")
    return (f"a MobileNetV2 ImageNet state_dict read from `{Path(w.path).name}` (checksum-verified)"
            f"; its terms are those of its origin, which its provider documents (the offline "
            f"bundle's README: rebuilt from the ONNX Model Zoo's `mobilenetv2-12-int8`, a "
            f"repository under Apache-2.0; ImageNet-trained weights carry ImageNet's "
            f"non-commercial research terms).")


def data_terms(synthetic: SyntheticData) -> str:
    """The terms of the training and evaluation data (see also the repository README)."""
    restrictions = ("the CreativeML OpenRAIL-M licence of Stable Diffusion governs their use (its "
                    "use restrictions pass on to anyone using the outputs or models trained on them)")
    gen = (f"The training images are Stable Diffusion outputs: {restrictions}. "
           if synthetic.source.kind == "diffusers" else
           f"This run used no generated images (with the paper configuration's Stable Diffusion "
           f"images, {restrictions}). ")
    return (f"{gen}CIFAR-10 (Krizhevsky, 2009) and STL-10 (Coates, Lee and Ng, 2011) are "
            f"distributed for research without a formal licence: cite them. Tiny-ImageNet and "
            f"ImageNet images stay under ImageNet's terms of access (non-commercial research and "
            f"education). The exported files are released with this repository's code licence "
            f"only as far as these terms allow.")


def _count(n: int | None) -> str:
    return "?" if n is None else str(n)


def labels_sentence(c: Mapping) -> str:
    """How many labeled real photos the deployed models used, in training and to be chosen."""
    m = c["models"]
    train = {r: e.get("real_labels") for r, e in m.items()}
    if any(n is None for n in train.values()):
        return ("This card predates the count of labeled real photos per model: re-export the "
                "models to see it.")
    trained = ("None of the three was trained on a labeled real photo (0 real labels each): "
               "they learned from the labeled source images and, where the method adapts, from "
               "unlabeled real photos." if not any(train.values()) else
               "Labeled real photos in training: " + ", ".join(f"{r} {n}" for r, n in train.items())
               + ".")
    chosen = m["adapted"].get("selection_real_labels") or 0
    choice = (f" To choose the adapted model, `{c['deploy_criterion']}` read the labels of "
              f"{chosen} labeled real target-validation photos (disjoint from the test photos), "
              "for choosing only, never for training." if chosen else
              " The adapted model was chosen without reading any real label.")
    return trained + choice


def _interval(ci: Sequence[float]) -> str:
    return f"[{pct(ci[0])}, {pct(ci[1])}]"


def gap_sentence(c: Mapping) -> str:
    """The adapted variant's share of the source-only -> oracle gap and the claim on it."""
    gap = c["models"]["adapted"].get("gap_closure")
    if not gap:
        return ""
    ci = f" {_interval(gap['ci95'])}" if gap.get("ci95") else ""
    claim = c.get("deployed_claim")
    verdict = (f" The claim that {claim['text']}: **{claim['verdict']}** (by the study's rule on "
               "that interval)." if claim else "")
    return (f"Over all {gap['seeds']} training seeds the adapted variant closes "
            f"{pct(gap['mean'])}%{ci} of the gap between the baseline and an oracle trained on "
            f"labeled target photos (95% bootstrap over seeds and test images).{verdict}")


def model_card_readme(c: Mapping, synthetic: SyntheticData, backbone: Backbone) -> str:
    """The model card (Markdown) of card `c`."""
    classes, size, m = c["classes"], c["image_size"], c["models"]
    rows = "\n".join(
        f"| {role} | `{e['onnx']}` | `{e['variant']}` | {e['selection_criterion']} | "
        f"{_count(e.get('real_labels'))} / {_count(e.get('selection_real_labels'))} | "
        f"{pct(e['test_accuracy'])}% | {_interval(e['test_accuracy_ci'])} |"
        for role, e in m.items())
    d_ad, d_st = c["differences"]["adapted"], c["differences"]["study"]
    verdict = ("The adapted model is better than the baseline on this run (the interval of the "
               "difference lies above 0)." if c["adaptation_helps"] else
               "On this run the adapted model is NOT shown to be better than the baseline: the "
               "interval of the difference reaches 0 or below.")
    src = synthetic.source
    training = (f"images generated by Stable Diffusion (`{src.model_id}`) from text prompts naming "
                f"each class" if src.kind == "diffusers" else
                f"labeled images from the folder `{Path(src.root).name}`, standing in for generated "
                f"images (offline configuration: its results are not the published "
                f"synthetic-to-real numbers)")
    return f"""# synth2real models: model card

Generated by the workflow from run `{c['study']}` (git commit `{c['git_commit']}`); the same
numbers, machine-readable, are in `card.json`.

## Intended use

Research and demonstration of domain adaptation: classify a photo as one of
{', '.join(f'`{k}`' for k in classes)}, and compare a model trained only on the source images
with adapted ones. Not for decisions about people, animals' welfare or safety.

## Models

| role | file | variant | chosen as | real labels (training / choice) | real-test accuracy | 95% interval |
|---|---|---|---|---|---|---|
{rows}

Intervals: {c['interval']}. The adapted model is the variant picked by the
criterion `{c['deploy_criterion']}` ({c['deploy_criterion_description']}), never
by test accuracy. {gap_sentence(c)} {labels_sentence(c)} Differences to the baseline (paired): adapted {100 * d_ad['diff']:+.2f}
points {_interval(d_ad['ci'])}, study {100 * d_st['diff']:+.2f} points {_interval(d_st['ci'])}.
{verdict}

## Training data and domain

Source (labeled training) data: {training}. Target domain: {c['target_domain']}
The heads were adapted with unlabeled photos of that collection; the backbone is
MobileNetV2 with ImageNet weights, frozen.

## Input contract

Input `image`: float32 [N, 3, {size}, {size}], RGB in [0, 1], after resizing the shorter side
to {size} px and centre-cropping (`synth2real.predict.preprocess`); the ImageNet
normalisation is inside the graph. Output `logits`: float32 [N, {len(classes)}] in the order
{', '.join(classes)}; softmax gives probabilities. Each file's `metadata_props` repeat this,
with its accuracy, interval and target domain.

## Known limits

- Adapted to one target domain: {c['target_domain']} Photos unlike it (large high-resolution
  photos, far from its {c['target_side_px']:.0f} px, drawings, other framing) may be classified
  differently, and confidence is not calibrated for them: the same photo can change class
  between its {c['target_side_px']:.0f} px version and a 1024 px one.
- A photo of none of these classes is still forced into one of them; a low top
  probability is the only hint.
- Accuracies come from one test collection; they do not transfer to other photos.

## Licences

Weights: {weights_terms(backbone)}

Data: {data_terms(synthetic)}
"""


def model_card(deploy: str, parity: str, onnx: list[str], card: str, readme: str, *,
               synthetic: SyntheticData, backbone: Backbone) -> None:
    """Stage: models/card.json (`card`) and models/README.md (`readme`) from the deploy file,
    the export's parity report and the ONNX files (`onnx`, in `ROLES` order)."""
    checks = read_json(parity)
    if not checks.get("passed"):
        raise DataError(f"{parity}: the export did not pass its parity check; no card")
    c = model_card_json(read_json(deploy), checks,
                        {r: Path(f).name for r, f in zip(ROLES, onnx, strict=True)})
    write_json(c, card)
    write_texts({readme: model_card_readme(c, synthetic, backbone)})
