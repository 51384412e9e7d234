"""No setting is chosen on labels it must not read: retraining with shuffled labels changes no model.

Every training job of the tiny run (every variant, the published ones, the oracle and the
labeled-budget track's included) is called in-process on the tiny run's cached features, with the manifests as
they are and with one kind of label tampered with: the real test labels shuffled, the
target-validation labels shuffled, the unlabeled pool's (diagnostic) labels all set to one
class. Test labels may move only test scores; target-validation labels only the
`target_val_acc` criterion (and the oracle's own validation score, which is that split);
pool labels only the pseudo-label diagnostics. A stage that trained, pseudo-labelled or
chose a self-training round on any of them would change a checkpoint, an accepted
pseudo-label or a model-selection criterion here.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml

from synth2real.analysis.summary import Setup, build
from synth2real.config import CRITERIA, Study, load
from synth2real.data.imagesets import FEATURE_KINDS, IMAGE_SETS, ImageSet, class_indices
from synth2real.data.manifests import read_csv
from synth2real.store import read_json
from synth2real.tools.bench_study import jobs

pytestmark = pytest.mark.timeout(900)

# Parts the tiny config's variants leave out, each a different way of choosing
# pseudo-labels or a round: class balance, out-of-domain rejection, per-minibatch
# mixing and self-training (three rounds, so the chosen round is a real choice). The tiny
# config itself has SHOT (stage 2 picks its own centroid pseudo-labels), both label-shift
# corrections (which read the pool and, BBSE, the source val split) and an ensemble.
EXTRA_VARIANTS = {
    "leak-balanced": {"pseudo_labels": "balanced"},
    "leak-ood-energy": {"pseudo_labels": "threshold", "reject": "energy"},
    "leak-mix-1to1": {"pseudo_labels": "threshold", "mixing": 1},
    "leak-self-training": {"pseudo_labels": "threshold", "rounds": 3},
}
CASES = ("real", "test-shuffled", "target-val-shuffled", "pool-labels-one-class")


def study_of(run: Path) -> Study:
    """The tiny run's config (its bundle from the run's provenance) plus `EXTRA_VARIANTS`."""
    raw = yaml.safe_load((run / "tiny.yaml").read_text())
    raw["bundle"] = read_json(run / "results" / "provenance.json")["config"]["bundle"]
    raw["methods"]["variants"] = {**raw["methods"]["variants"], **EXTRA_VARIANTS}
    return load(raw)


def shuffled_copy(src: Path, dest: Path, rows_to_shuffle: str | None, seed: int = 0) -> Path:
    """`src` with the `label` column permuted (seeded) among the rows whose `split` is
    `rows_to_shuffle` (all rows when None); asserts the permutation moved some label."""
    rows = read_csv(src)
    chosen = [i for i, r in enumerate(rows)
              if rows_to_shuffle is None or r["split"] == rows_to_shuffle]
    labels = [rows[i]["label"] for i in chosen]
    perm = np.random.default_rng(seed).permutation(len(chosen))
    for i, j in zip(chosen, perm, strict=True):
        rows[i] = {**rows[i], "label": labels[j]}
    assert any(rows[i]["label"] != labels[k] for k, i in enumerate(chosen)), "shuffle moved nothing"
    with dest.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return dest


def one_class_pool(src: Path, dest: Path, label: str) -> Path:
    """The pool manifest with every image's (diagnostic) true label set to `label`."""
    rows = [{**r, "true_label": label} for r in read_csv(src)]
    assert any(r["true_label"] != label for r in read_csv(src))
    with dest.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return dest


def train_all(study: Study, run: Path, manifests: dict[str, Path], out: Path) -> None:
    """Every training job of `study` as its rule calls it, on the run's feature caches and
    the manifests `manifests` (image set -> path)."""
    features = run / "results" / "features"
    sets = {s: {k: ImageSet(s, str(manifests[s]), str(features / k / f"{s}.npz"))
                for k in FEATURE_KINDS} for s in IMAGE_SETS}
    # The budget track's draws come from the oracle split alone, which no case tampers with.
    for job in jobs(out / "heads", study, sets, run / "results" / "data" / "target_budgets.csv",
                    run / "results" / "backbone" / "backbone.json").values():
        job()


@pytest.fixture(scope="module")
def trained(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Output folder of each case (`CASES`), all trained from the tiny run's features."""
    study = study_of(tiny_run)
    data = tiny_run / "results" / "data"
    root = tmp_path_factory.mktemp("label-leak")
    real = {s: data / f"{s}.csv" for s in IMAGE_SETS}
    manifests = {
        "real": real,
        "test-shuffled": {**real, "real_test": shuffled_copy(real["real_test"],
                                                             root / "real_test.csv", None)},
        "target-val-shuffled": {**real, "target_labeled": shuffled_copy(
            real["target_labeled"], root / "target_labeled.csv", "val")},
        "pool-labels-one-class": {**real, "pool": one_class_pool(real["pool"], root / "pool.csv",
                                                                 study.classes[0])},
    }
    # One thread, as every training job runs (smk.run sets the rule's threads), so the
    # "real" case also reproduces the workflow's own checkpoints bit for bit.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for case, m in manifests.items():
            train_all(study, tiny_run, m, root / case)
    finally:
        torch.set_num_threads(threads)
    yield {case: root / case for case in CASES}


def checkpoints(out: Path) -> dict[str, dict[str, Any]]:
    """Relative path -> the checkpoint's contents, for every head.pt under `out`."""
    return {str(p.relative_to(out)): torch.load(p, map_location="cpu", weights_only=True)
            for p in sorted(out.glob("heads/*/seed*/head.pt"))}


def same_weights(a: dict[str, Any], b: dict[str, Any]) -> bool:
    sa, sb = a["state_dict"], b["state_dict"]
    return (a["kind"], a["args"], a["classes"]) == (b["kind"], b["args"], b["classes"]) \
        and list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


def metrics(out: Path) -> dict[str, dict[str, Any]]:
    """Relative path -> metrics.json, with `out` itself (in pseudo-label source paths) masked."""
    return {str(p.relative_to(out)): json.loads(p.read_text().replace(str(out), "<out>"))
            for p in sorted(out.glob("heads/*/seed*/metrics.json"))}


def pseudo_files(out: Path) -> dict[str, str]:
    """Relative path -> text of every model's accepted pseudo-labels."""
    return {str(p.relative_to(out)): p.read_text()
            for p in sorted(out.glob("heads/*/seed*/pseudo_labels.csv"))}


def summary(study: Study, out: Path, test_csv: Path) -> dict[str, Any]:
    """`analysis.summary.build` over the case's metrics, as the summary rule reads them."""
    loaded = {v: [read_json(out / "heads" / v / f"seed{s}" / "metrics.json") for s in study.seeds]
              for v in study.variants}
    y = class_indices([r["label"] for r in read_csv(test_csv)], study.classes, str(test_csv))
    return build(Setup.of(study), loaded, y)


def picks(summ: dict[str, Any]) -> dict[str, str]:
    """Criterion -> the variant the summary's model selection picks with it."""
    return {c: s["variant"] for c, s in summ["model_selection"]["criteria"].items()}


def without(d: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k not in keys}


def masked_prior(m: dict[str, Any]) -> dict[str, Any]:
    """A metrics record with the label-shift diagnostic that reads the pool labels masked."""
    if "prior" not in m:
        return m
    return {**m, "prior": without(m["prior"], "pool_true_in_domain")}


def test_real_case_reproduces_the_workflow_checkpoints(trained: dict[str, Path], tiny_run: Path):
    """The in-process calls are the workflow's stages: same checkpoints, same pseudo-labels."""
    ours, theirs = checkpoints(trained["real"]), checkpoints(tiny_run / "results")
    shared = sorted(set(ours) & set(theirs))
    assert len(shared) == len(theirs) > 0
    assert [k for k in shared if not same_weights(ours[k], theirs[k])] == []
    # The accepted pseudo-labels, byte for byte.
    accepted = sorted(p.relative_to(tiny_run / "results")
                      for p in (tiny_run / "results").glob("heads/*/seed*/pseudo_labels.csv"))
    assert any(len(read_csv(tiny_run / "results" / name)) for name in accepted)
    for name in accepted:
        assert (trained["real"] / name).read_bytes() == (tiny_run / "results" / name).read_bytes()


def same_models_and_pseudo_labels(real: Path, shuffled: Path) -> tuple[dict, dict]:
    """Assert identical checkpoints and pseudo-label files; return both runs' metrics."""
    ck_real, ck_shuf = checkpoints(real), checkpoints(shuffled)
    assert ck_real.keys() == ck_shuf.keys() and len(ck_real) > 0
    assert [k for k in ck_real if not same_weights(ck_real[k], ck_shuf[k])] == []
    assert pseudo_files(real) == pseudo_files(shuffled)
    m_real, m_shuf = metrics(real), metrics(shuffled)
    assert m_real.keys() == m_shuf.keys()
    return m_real, m_shuf


def test_shuffled_test_labels_change_no_model_or_selection(trained: dict[str, Path],
                                                           tiny_run: Path):
    real, shuffled = trained["real"], trained["test-shuffled"]
    m_real, m_shuf = same_models_and_pseudo_labels(real, shuffled)
    for name in m_real:
        # Everything a metrics file holds but the test scores: model-selection criteria,
        # pseudo-label diagnostics, self-training rounds, train/val scores, history, PAD.
        assert without(m_real[name], "test") == without(m_shuf[name], "test"), name
    rounds = {k: m["self_training"]["chosen_round"] for k, m in m_real.items()
              if "self_training" in m}
    assert rounds, "no self-training variant ran: the chosen round went unchecked"
    # The shuffle did reach the test scores (else this test would prove nothing).
    assert any(m_real[k]["test"]["acc"] != m_shuf[k]["test"]["acc"] for k in m_real)

    study = study_of(tiny_run)
    s_real = summary(study, real, tiny_run / "results" / "data" / "real_test.csv")
    s_shuf = summary(study, shuffled, shuffled.parent / "real_test.csv")
    assert picks(s_real) == picks(s_shuf)
    assert s_real["model_selection"]["candidates"] == s_shuf["model_selection"]["candidates"]
    for v in s_real["variants"]:
        assert s_real["variants"][v].get("criteria") == s_shuf["variants"][v].get("criteria"), v


def test_shuffled_target_val_labels_move_only_target_val_acc(trained: dict[str, Path],
                                                             tiny_run: Path):
    real, shuffled = trained["real"], trained["target-val-shuffled"]
    m_real, m_shuf = same_models_and_pseudo_labels(real, shuffled)
    moved = set()
    for name in m_real:
        a, b = m_real[name], m_shuf[name]
        # The validation split of a model trained on labeled photos (the oracle, the budget
        # track) is the target-validation split itself.
        skip = ("criteria", "val") if a["labels"] != "synthetic" else ("criteria",)
        assert without(a, *skip) == without(b, *skip), name
        if "criteria" in a:
            differing = {k for k in a["criteria"] if a["criteria"][k] != b["criteria"][k]}
            assert differing <= {"target_val_acc"}, (name, differing)
            moved |= differing
    assert moved == {"target_val_acc"}, "the target-val shuffle changed no target_val_acc"

    study = study_of(tiny_run)
    test_csv = tiny_run / "results" / "data" / "real_test.csv"
    p_real = picks(summary(study, real, test_csv))
    p_shuf = picks(summary(study, shuffled, test_csv))
    assert set(p_real) == set(CRITERIA)
    assert without(p_real, "target_val_acc") == without(p_shuf, "target_val_acc")


def test_the_pools_own_labels_move_only_the_pseudo_label_diagnostics(trained: dict[str, Path],
                                                                      tiny_run: Path):
    real, tampered = trained["real"], trained["pool-labels-one-class"]
    m_real, m_tamp = same_models_and_pseudo_labels(real, tampered)
    moved, prior_moved = False, False
    for name in m_real:
        a, b = (masked_prior(m) for m in (m_real[name], m_tamp[name]))
        assert without(a, "pseudo_label", "self_training") == without(
            b, "pseudo_label", "self_training"), name
        if "pseudo_label" in a:
            moved |= a["pseudo_label"]["pseudo_label_acc"] != b["pseudo_label"]["pseudo_label_acc"]
        if "prior" in a:  # the estimate is the same; only the true pool prior beside it moved
            prior_moved |= (m_real[name]["prior"]["pool_true_in_domain"]
                            != m_tamp[name]["prior"]["pool_true_in_domain"])
    assert moved, "the tampered pool labels reached no diagnostic: the test proves nothing"
    assert prior_moved, "no label-shift correction ran, or its diagnostic ignores the pool labels"
    study = study_of(tiny_run)
    test_csv = tiny_run / "results" / "data" / "real_test.csv"
    assert picks(summary(study, real, test_csv)) == picks(summary(study, tampered, test_csv))
