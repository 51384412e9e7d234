"""The labeled-budget track's config: one variant per method and budget, stage-1 models trained
once, and every impossible method named by its key."""

from __future__ import annotations

import pytest

from synth2real.config import LastBlock, TargetLabels, Variant, load_file
from synth2real.config.budgets import DEFAULT_METHODS, Budgets
from synth2real.errors import ConfigError
from tests.conftest import REPO


def offline(bundle, **budgets):
    return load_file(REPO / "config" / "offline.yaml", {"bundle": str(bundle), **(
        {"budgets": {**load_file(REPO / "config" / "offline.yaml", {"bundle": str(bundle)})
                     .budgets.model_dump(mode="json", exclude={"methods"}), **budgets}}
        if budgets else {})})


def test_every_method_at_every_budget_is_a_variant(bundle):
    cfg = offline(bundle)
    assert cfg.budgets.per_class == [1, 3, 10, 30, 100, "all"]
    assert len(cfg.budget_variants) == 9 * 6
    v = cfg.budget_variants
    assert v["real-only@3"].target_labels == TargetLabels(use="only", per_class=3)
    assert v["mix-1to7@all"].target_labels.per_class is None and v["mix-1to7@all"].mixing.ratio == 7
    assert v["pooled@10"].source.size == 1000  # the study's synthetic set
    assert v["bridged@1"].trainable == LastBlock(epochs=8)
    # Budget variants are not the study's: no model selection, export or methods table.
    assert not set(cfg.budget_variants) & set(cfg.variants)
    assert all(not x.label_free for x in cfg.budget_variants.values())


def test_the_offline_methods_are_the_defaults_but_for_cpu_sized_block_epochs(bundle):
    methods = offline(bundle).budgets.methods
    assert methods.keys() == DEFAULT_METHODS.keys()
    for name, v in methods.items():
        if v.trainable.kind == "head":
            assert v == DEFAULT_METHODS[name]


def test_bridged_transfer_continues_the_study_variant_with_the_same_parts(bundle):
    cfg = offline(bundle)
    assert cfg.started_from("bridged@3") == "block" and cfg.started_from("pooled@3") is None
    assert not any(n.endswith("@start") for n in cfg.trained)


def test_a_stage_1_no_study_variant_trains_is_trained_once_by_the_track(bundle):
    cfg = offline(bundle, methods={"b": {"target_labels": {"use": "bridged", "start": {}}},
                                   "r": {"target_labels": "only"}}, real_only="r", claims=[])
    assert cfg.started_from("b@10") == "synthetic-1000"  # the plain source-only head
    cfg = offline(bundle, methods={"b": {"target_labels": {
        "use": "bridged", "start": {"trainable": {"kind": "last_block", "epochs": 2}}},
        "trainable": "last_block"}, "r": {"target_labels": "only"}}, real_only="r", claims=[])
    assert cfg.started_from("b@all") == "b@start" and next(iter(cfg.budget_variants)) == "b@start"
    assert cfg.budget_variants["b@start"].label_free
    assert cfg.training_job("b@start") == "budget-heads.block.block"
    assert cfg.training_job("b@1") == "budget-bridged.block.block"


def test_the_default_claims_are_the_two_studies(bundle):
    claims = {c.id: c for c in offline(bundle).budgets.judged}
    assert set(claims) == {"bridged-beats-real-only", "bridged-beats-pooling", "synthetic-helps",
                           "mixing-ratio", "refined-plus-real"}
    assert (claims["refined-plus-real"].a, claims["refined-plus-real"].b) == ("pooled+mrgan",
                                                                            "real-only")
    assert claims["bridged-beats-real-only"].b == "real-only+block"  # the same trainable part
    assert claims["mixing-ratio"].per_class == [100]
    # Claims whose methods or budgets the track does not run are left out.
    assert Budgets(per_class=[1, "all"], methods={"real-only": DEFAULT_METHODS["real-only"]}
                   ).judged == []


@pytest.mark.parametrize("budgets,shown", [
    ({"per_class": [3, 1]}, "budgets: .*ascending"),
    ({"per_class": ["all", 3]}, "budgets: .*`all` last"),
    ({"per_class": [0, 3]}, "budgets: .*>= 1"),
    ({"methods": {"x": {"source": "aligned"}}, "real_only": "x"}, "methods.x: a budget method"),
    ({"methods": {"x": {"target_labels": {"use": "only", "per_class": 3}}}, "real_only": "x"},
     "methods.x.target_labels.per_class: set by the track"),
    ({"methods": {"x": {"target_labels": "pooled"}}, "real_only": "x"},
     "real_only='x' must train on the photos alone"),
    ({"real_only": "nope"}, "real_only='nope' is not one of the methods"),
    ({"claims": [{"id": "c", "text": "t", "a": "real-only", "b": "zzz", "per_class": [1]}]},
     "claims: 'c' names method 'zzz'"),
    ({"claims": [{"id": "c", "text": "t", "a": "real-only", "b": "pooled", "per_class": [7]}]},
     "claims: 'c' reads budget 7"),
])
def test_an_impossible_track_is_named(bundle, budgets, shown):
    with pytest.raises(ConfigError, match=shown):
        offline(bundle, **budgets)


@pytest.mark.parametrize("parts,shown", [
    ({"target_labels": "only", "pseudo_labels": "threshold"}, "target_labels: only: training on"),
    ({"target_labels": "bridged"}, "target_labels: .*start gives the stage-1 parts"),
    ({"target_labels": {"use": "only", "start": {}}}, "target_labels: .*only its"),
    ({"target_labels": {"use": "bridged", "start": {"target_labels": "only"}}},
     "target_labels: .*stage 1 of bridged transfer trains on synthetic images only"),
    ({"target_labels": {"use": "bridged", "start": {"trainable": "last_block"}}},
     "target_labels: start: stage 2 continues stage 1's model"),
    ({"target_labels": {"use": "bridged", "start": {"trainer": "mcc"}}},
     "target_labels: start: stage 2 continues"),
    ({"target_labels": "only", "mixing": 3}, "mixing: mixes real images"),
    ({"target_labels": "only", "trainer": "im"}, "target_labels: only: training on"),
])
def test_an_impossible_method_names_its_part(bundle, parts, shown):
    with pytest.raises(ConfigError, match=rf"budgets\.methods\.x\.{shown}"):
        offline(bundle, methods={"x": parts, "r": {"target_labels": "only"}}, real_only="r",
                claims=[])


def test_labeled_photos_belong_to_the_track_not_to_the_study(bundle):
    with pytest.raises(ConfigError, match="target_labels belong to the labeled-budget track"):
        load_file(REPO / "config" / "offline.yaml", {"bundle": str(bundle), "methods": {
            "variants": {"x": {"target_labels": "only"}}}})


def test_pooled_photos_mix_with_the_synthetic_minibatches():
    v = Variant.model_validate({"target_labels": "pooled", "mixing": 15})
    assert v.labels == "synthetic+target" and v.reads_source and not v.reads_pool
    assert Variant.model_validate({"target_labels": "only"}).labels == "target"
    assert Variant.model_validate({"trainable": "last_block"}).feature_kinds["pool"] == "block"


def test_a_method_that_reads_no_synthetic_image_ignores_its_source_part():
    a = Variant.model_validate({"target_labels": "only"}).resolved(0.5, 1000)
    b = Variant.model_validate({"target_labels": "only"}).resolved(0.5, 500)
    assert a.fit() == b.fit()
