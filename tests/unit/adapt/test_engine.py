"""The engine: every part registered, every way of getting a model, named inputs of the right kind,
and nothing that reads the labels it must not."""

from __future__ import annotations

import typing
from pathlib import Path

import numpy as np
import pytest
import torch

from synth2real.adapt import engine, pseudo_labels
from synth2real.config import (
    LastBlock,
    Prior,
    Rejection,
    Rounds,
    Source,
    TargetLabels,
    Train,
    Variant,
)
from synth2real.config.variants import PseudoLabels, Trainable, Trainer
from synth2real.data.imagesets import FEATURE_KINDS, ImageSet, save_features
from synth2real.data.manifests import (
    POOL_FIELDS,
    SOURCE_FIELDS,
    TARGET_FIELDS,
    TEST_FIELDS,
    read_csv,
    write_csv,
)
from synth2real.errors import DataError
from synth2real.model import head
from synth2real.store import read_json

CLASSES = ["dog", "cat", "bird"]
TRAIN = Train(epochs=3, batch_size=16, step_size=2, lr=0.05)  # few steps: a large rate
SEEDS = [0, 1]
# Where each part of a variant is implemented; a part added to `Variant` must be added here
# (and registered in the engine's tables, which the tests below check).
PARTS = {
    "source": "Source.features: feature kinds (workflow); Source.size: Data.splits",
    "target": "feature kinds (workflow)",
    "target_labels": "Data.splits (budget draws: data.budgets), bridged: fit_variants(starts)",
    "trainable": "engine.trainable",
    "pseudo_labels": "engine.SELECTORS",
    "reject": "pseudo_labels.OOD_SCORES",
    "rounds": "engine.ROUND_CHOICE",
    "mixing": "mixing.mixed",
    "trainer": "engine.TRAINERS",
    "ensemble": "train_variants(ensembles): head.Ensemble of the members' checkpoints",
    "prior": "engine.PRIOR_ESTIMATES, folded in by head.shift_logits",
    "description": "Variant.describe",
}


def union_members(annotated) -> set[type]:
    return set(typing.get_args(typing.get_args(annotated)[0]))


def test_every_part_is_known_and_every_kind_of_a_part_is_registered():
    assert set(Variant.model_fields) == set(PARTS)
    assert union_members(PseudoLabels) == set(engine.SELECTORS)
    assert union_members(Trainer) == set(engine.TRAINERS)
    assert {c().kind if c is not LastBlock else "last_block" for c in union_members(Trainable)} \
        == {"head", "last_block"}
    assert set(typing.get_args(TargetLabels.model_fields["use"].annotation)) \
        == {"only", "pooled", "bridged"}
    assert set(typing.get_args(Rejection.model_fields["score"].annotation)) == set(pseudo_labels.OOD_SCORES)
    assert set(typing.get_args(Rounds.model_fields["chosen_by"].annotation)) == set(engine.ROUND_CHOICE)
    assert set(typing.get_args(Prior.model_fields["kind"].annotation)) == set(engine.PRIOR_ESTIMATES)
    kinds = {*typing.get_args(Source.model_fields["features"].annotation),
             *typing.get_args(Variant.model_fields["target"].annotation)}
    assert kinds <= set(FEATURE_KINDS)


# ------------------------------------------------------------ image sets on disk --

DIM = 12


def write_sets(root: Path, shift: float = 1.5, pool_labels: list[str] | None = None) -> dict:
    """Manifests and plain + AdaBN feature caches of a toy study: well separated classes,
    the real images shifted. Returns image set name -> {kind: ImageSet}."""
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 3, (3, DIM))

    def feats(y, real):
        return (centers[y] + rng.normal(0, 1, (len(y), DIM)) + shift * real).astype(np.float32)

    sets = {}

    def write(name, rows, fields, X):
        for i, r in enumerate(rows):
            r["path"] = f"{name}/{i}.png"
        write_csv(root / f"{name}.csv", rows, fields)
        sets[name] = {}
        for kind, offset in (("plain", 0.0), ("adabn", 0.1)):
            save_features(root / kind / f"{name}.npz", X + offset, [r["path"] for r in rows], name,
                          kind)
            sets[name][kind] = ImageSet(name, str(root / f"{name}.csv"), str(root / kind / f"{name}.npz"))

    y = np.repeat(np.arange(3), 20)
    write("source", [{"label": CLASSES[k], "rank": i % 20, "split": "val" if i % 5 == 4 else "train"}
                     for i, k in enumerate(y)], SOURCE_FIELDS, feats(y, 0))
    yp = rng.integers(0, 3, 60)
    true = pool_labels or [CLASSES[k] for k in yp]
    write("pool", [{"true_label": t, "in_domain": 1} for t in true], POOL_FIELDS, feats(yp, 1))
    yt = np.repeat(np.arange(3), 10)
    write("real_test", [{"label": CLASSES[k]} for k in yt], TEST_FIELDS, feats(yt, 1))
    yl = np.repeat(np.arange(3), 8)
    write("target_labeled", [{"label": CLASSES[k], "split": "val" if i % 8 < 3 else "oracle"}
                             for i, k in enumerate(yl)], TARGET_FIELDS, feats(yl, 1))
    return sets


def outputs(root: Path, names: list[str]) -> dict[str, list[str]]:
    return {key: [str(root / v / f"seed{s}" / f) for v in names for s in SEEDS]
            for key, f in (("heads", "head.pt"), ("metrics", "metrics.json"),
                           ("provenance", "provenance.json"), ("accepted", "pseudo_labels.csv"))}


def run(root: Path, sets: dict, variants: dict[str, Variant], kind: str = "plain",
        train: Train = TRAIN, **kw) -> dict:
    out = outputs(root / "heads", list(variants))
    images = {name: s["plain" if name == "source" else kind] for name, s in sets.items()}
    engine.train_variants(**images, **out, variants=variants, train=train, domain_sample=20,
                          data_seed=0, classes=CLASSES, seeds=SEEDS, **kw)
    return out


SOURCE_ONLY = Variant(source={"size": 20})
PSEUDO = Variant(source={"size": 20}, pseudo_labels={"kind": "threshold", "threshold": 0.5})
ORACLE = Variant(target_labels={"use": "only"})


@pytest.fixture
def sets(tmp_path):
    return write_sets(tmp_path / "sets")


def test_a_job_writes_every_models_files_and_scores(tmp_path, sets):
    out = run(tmp_path, sets, {"src": SOURCE_ONLY, "oracle": ORACLE})
    m = read_json(out["metrics"][0])
    assert m["variant"] == "src" and m["seed"] == 0 and m["labels"] == "synthetic"
    assert m["n_train"] == 48 and m["val"]["n"] == 12 and m["test"]["n"] == 30
    assert len(m["test"]["pred"]) == 30 and set(m["criteria"]) >= {"source_val_acc", "target_val_acc"}
    assert m["method"]["source"] == {"features": "plain", "size": 20, "pixel": "none"}
    oracle = read_json(out["metrics"][2])
    assert oracle["labels"] == "target" and oracle["n_train"] == 15 and "criteria" not in oracle
    assert read_csv(out["accepted"][0]) == []  # no pseudo-labels, a header only
    model, classes = head.load(out["heads"][1])
    assert classes == CLASSES and isinstance(model, head.Head)


def test_pseudo_labels_come_from_the_labelling_models_and_are_written(tmp_path, sets):
    first = run(tmp_path / "a", sets, {"src": SOURCE_ONLY})
    out = run(tmp_path / "b", sets, {"pl": PSEUDO}, labellers={"pl": "src"},
              labelling_models=first["heads"])
    labeller, _ = head.load(first["heads"][1])
    pool = sets["pool"]["plain"]
    probs = head.predict_proba(labeller, pool.lookup([r["path"] for r in pool.rows()], "plain"))
    expected = [(r["path"], CLASSES[p.argmax()]) for r, p in zip(pool.rows(), probs) if p.max() > 0.5]
    accepted = read_csv(out["accepted"][1])
    assert [(a["path"], a["label"]) for a in accepted] == expected and expected
    m = read_json(out["metrics"][1])
    assert m["n_train"] == 48 + len(expected)
    assert m["pseudo_label"]["accepted"] == len(expected) and m["pseudo_label"]["rule"] == "threshold"


def test_a_shared_variant_evaluates_the_other_variants_models_on_its_features(tmp_path, sets):
    first = run(tmp_path / "a", sets, {"src": SOURCE_ONLY})
    out = run(tmp_path / "b", sets, {"src+adabn": Variant(source={"size": 20}, target="adabn")},
              kind="adabn", shares={"src+adabn": "src"}, shared_models=first["heads"])
    a, b = head.load(first["heads"][0])[0], head.load(out["heads"][0])[0]
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    m, plain = read_json(out["metrics"][0]), read_json(first["metrics"][0])
    assert m["shared_with"]["variant"] == "src"
    assert m["train"]["acc"] == plain["train"]["acc"]  # same model, same source features
    assert m["test"]["pred"] != plain["test"]["pred"] or m["criteria"] != plain["criteria"]


def test_a_stage_refuses_features_of_another_kind_or_image_set(tmp_path, sets):
    images = {name: s["plain"] for name, s in sets.items()}
    images["pool"] = sets["pool"]["adabn"]
    with pytest.raises(DataError, match=r"adabn features of image set 'pool', but this stage reads "
                                        r"plain features of 'pool'"):
        engine.train_variants(**images, **outputs(tmp_path, ["v"]), variants={"v": SOURCE_ONLY},
                              train=TRAIN, domain_sample=20, data_seed=0, classes=CLASSES, seeds=SEEDS)
    images = {name: s["plain"] for name, s in sets.items()}
    images["real_test"] = ImageSet("real_test", images["real_test"].manifest, sets["pool"]["plain"].features)
    with pytest.raises(DataError, match="plain features of image set 'pool'"):
        engine.train_variants(**images, **outputs(tmp_path, ["v"]), variants={"v": SOURCE_ONLY},
                              train=TRAIN, domain_sample=20, data_seed=0, classes=CLASSES, seeds=SEEDS)


@pytest.mark.parametrize("variant", [
    PSEUDO,
    Variant(source={"size": 20}, pseudo_labels="balanced", reject="energy", rounds=2),
    Variant(source={"size": 20}, pseudo_labels={"kind": "threshold", "threshold": 0.4}, mixing=1),
])
def test_the_pools_true_labels_move_no_model_and_no_pseudo_label(tmp_path, variant):
    """Contradicting pool labels (every image a dog) change the diagnostics only."""
    runs = []
    for name, labels in (("true", None), ("dogs", ["dog"] * 60)):
        sets = write_sets(tmp_path / name / "sets", pool_labels=labels)
        first = run(tmp_path / name / "a", sets, {"src": SOURCE_ONLY})
        runs.append(run(tmp_path / name / "b", sets, {"v": variant}, labellers={"v": "src"},
                        labelling_models=first["heads"]))
    for a, b in zip(runs[0]["heads"], runs[1]["heads"]):
        pa, pb = head.load(a)[0], head.load(b)[0]
        assert all(torch.equal(x, y) for x, y in zip(pa.parameters(), pb.parameters()))
    for a, b in zip(runs[0]["accepted"], runs[1]["accepted"]):
        assert read_csv(a) == read_csv(b)
    diag = [read_json(r["metrics"][0])["pseudo_label"]["pseudo_label_acc"] for r in runs]
    assert diag[0] != diag[1]  # the diagnostics do read them


def test_self_training_keeps_the_round_its_criterion_prefers(tmp_path, sets):
    first = run(tmp_path / "a", sets, {"src": SOURCE_ONLY})
    spec = Variant(source={"size": 20}, pseudo_labels="threshold", rounds={"count": 3,
                                                                          "chosen_by": "pool_entropy"})
    spec = spec.resolved(0.5, 20)
    # The study's rate: rounds that are still learning, so each relabels the pool differently.
    out = run(tmp_path / "b", sets, {"st": spec}, labellers={"st": "src"},
              labelling_models=first["heads"], train=Train(epochs=3, batch_size=16, step_size=2))
    for path in out["metrics"]:
        st = read_json(path)["self_training"]
        entropies = [r["pool_entropy"] for r in st["rounds"]]
        assert len(entropies) == 3 and len(set(entropies)) == 3, entropies
        assert st["chosen_round"] == 1 + int(np.argmin(entropies))
        assert read_json(path)["pseudo_label"] == st["rounds"][st["chosen_round"] - 1]["pseudo_label"]


def test_pseudo_labels_need_a_labelling_model_per_seed(tmp_path, sets):
    data = engine.load_data(*(sets[n]["plain"] for n in ("source", "pool", "real_test",
                                                          "target_labeled")),
                            PSEUDO.feature_kinds, CLASSES)
    with pytest.raises(ValueError, match="one labelling model per seed"):
        engine.fit_variants({"pl": PSEUDO}, data, TRAIN, SEEDS, {"pl": []})


def test_the_oracle_beats_source_only_on_a_rotated_target(tmp_path):
    """Target classes whose means are rotated against the source's: labeled target photos
    teach what synthetic ones cannot."""
    sets = write_sets(tmp_path / "sets", shift=0.0)
    rng = np.random.default_rng(1)
    centers = rng.normal(0, 3, (3, DIM))
    for name in ("pool", "real_test", "target_labeled"):  # the real domain: other class means
        s = sets[name]["plain"]
        rows = s.rows()
        y = ([CLASSES.index(r["label"]) for r in rows] if name != "pool"
             else rng.integers(0, 3, len(rows)))
        X = (centers[np.asarray(y)] + rng.normal(0, 0.5, (len(rows), DIM))).astype(np.float32)
        save_features(s.features, X, [r["path"] for r in rows], name, "plain")
    train = Train(epochs=30, lr=0.05, step_size=100, batch_size=16)
    out = outputs(tmp_path / "heads", ["src", "oracle"])
    engine.train_variants(**{n: s["plain"] for n, s in sets.items()}, **out,
                          variants={"src": SOURCE_ONLY, "oracle": ORACLE},
                          train=train, domain_sample=20, data_seed=0, classes=CLASSES, seeds=SEEDS)
    for k in range(len(SEEDS)):
        src, orc = read_json(out["metrics"][k]), read_json(out["metrics"][len(SEEDS) + k])
        assert orc["test"]["acc"] > src["test"]["acc"] + 0.3
        assert src["test"]["acc"] == pytest.approx(np.mean(
            np.array(src["test"]["pred"]) == np.repeat(np.arange(3), 10)))


def test_shot_ensembles_and_prior_corrections_train_from_their_parts(tmp_path, sets):
    im = Variant(source={"size": 20}, trainer={"kind": "im", "bottleneck": 8})
    first = run(tmp_path / "a", sets, {"src": SOURCE_ONLY, "im": im})
    shot = Variant(source={"size": 20}, trainer={"kind": "shot", "bottleneck": 8}, prior="em")
    out = run(tmp_path / "b", sets, {"shot": shot})
    m = read_json(out["metrics"][0])
    assert set(m["history"]) >= {"class_loss", "adaptation"}
    assert set(m["history"]["adaptation"]) >= {"im_loss", "centroid_loss"}
    est = m["prior"]["estimated"]
    assert m["prior"]["kind"] == "em" and sum(est) == pytest.approx(1) and est != [1 / 3] * 3
    assert set(m["criteria"]) >= {"mixval", "dev"} and len(m["pool_probs"]) == 60

    ens = Variant(source={"size": 20}, ensemble={"members": ["src", "im"]}, prior="bbse")
    out = run(tmp_path / "c", sets, {"ens": ens}, ensembles={"ens": ["src", "im"]},
              ensemble_models=[first["heads"][0], first["heads"][1], first["heads"][2],
                               first["heads"][3]])
    model, _ = head.load(out["heads"][1])  # seed 1: members src seed 1 and im seed 1
    assert isinstance(model, head.Ensemble)
    members = [head.load(first["heads"][1])[0], head.load(first["heads"][3])[0]]
    X = sets["real_test"]["plain"].labeled(sets["real_test"]["plain"].rows(), CLASSES, "plain").X
    m = read_json(out["metrics"][1])
    ratio = np.exp(np.log(m["prior"]["estimated"]) - np.log(m["prior"]["source"]))
    mean = np.mean([head.predict_proba(n, X) for n in members], 0) * ratio
    np.testing.assert_allclose(head.predict_proba(model, X), mean / mean.sum(1, keepdims=True),
                               rtol=1e-4)
    assert m["ensemble"]["members"] == ["src", "im"]
    assert m["test"]["pred"] == head.predict_proba(model, X).argmax(1).tolist()


def test_a_prior_variant_corrects_the_models_of_the_variant_it_shares(tmp_path, sets):
    first = run(tmp_path / "a", sets, {"src": SOURCE_ONLY})
    spec = Variant(source={"size": 20}, prior="em")
    out = run(tmp_path / "b", sets, {"src+em": spec}, shares={"src+em": "src"},
              shared_models=first["heads"])
    X = sets["pool"]["plain"].lookup([r["path"] for r in sets["pool"]["plain"].rows()], "plain")
    for k in range(len(SEEDS)):
        m = read_json(out["metrics"][k])
        assert m["shared_with"]["variant"] == "src" and m["prior"]["kind"] == "em"
        base, corrected = head.load(first["heads"][k])[0], head.load(out["heads"][k])[0]
        expected = head.predict_proba(base, X) * np.array(m["prior"]["estimated"]) \
            / np.array(m["prior"]["source"])
        np.testing.assert_allclose(head.predict_proba(corrected, X),
                                   expected / expected.sum(1, keepdims=True), rtol=1e-4)
