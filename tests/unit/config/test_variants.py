"""Method variants are typed combinations of parts: shorthands, defaults in one place, every
impossible combination named by variant and part, and each distinct model trained once."""

from __future__ import annotations

import pytest

from synth2real.config import Balanced, Coral, Dann, Im, LastBlock, Mcc, Variant, load_file
from synth2real.config.variants import DEFAULT_VARIANTS, Methods, Threshold, threshold_only
from synth2real.errors import ConfigError
from tests.conftest import REPO

PUBLISHED = ["synthetic-500", "synthetic-1000", "pseudo-label"]


def offline(bundle, **methods):
    """The offline config; with `methods`, those replace its methods section (and model
    selection then chooses among every label-free variant: the config's candidates are gone)."""
    return load_file(REPO / "config" / "offline.yaml", {"bundle": str(bundle), **(
        {"methods": methods, "evaluation": {"deploy_criterion": "ensv"}} if methods else {})})


def test_offline_config_declares_the_43_method_variants_in_order(bundle):
    cfg = offline(bundle)
    assert list(cfg.variants)[:3] == PUBLISHED and list(cfg.variants)[-1] == "oracle"
    assert len(cfg.method_variants) == 43
    assert {"threshold-0.95", "balanced", "self-training", "ood-energy", "adabn", "adabn+pl", "dann",
            "align", "align+adabn+pl", "mix-1to1", "mix-1to15", "mcc", "align+mcc", "coral",
            "align+coral", "im", "align+im"} <= set(cfg.variants)
    # The config file spells out exactly the code's defaults (nothing hides in either), but
    # for the CPU-sized epochs of the block models and only IM adapting the block (SHOT, MCC
    # and DANN on it would cost minutes of the 2 cores the pixel-level parts need).
    expected = {k: v for k, v in DEFAULT_VARIANTS.items()
                if k not in ("block+shot", "block+mcc", "block+dann")}
    expected["block"] = Variant(trainable=LastBlock(epochs=8))
    expected["block+im"] = Variant(trainer="im", trainable=LastBlock(epochs=2))
    assert dict(cfg.methods.variants) == expected


def test_the_paper_config_declares_the_same_variants():
    assert dict(load_file(REPO / "config" / "paper.yaml").methods.variants) == DEFAULT_VARIANTS


def test_no_variants_runs_the_published_study_only(bundle):
    assert list(offline(bundle, variants={}).variants) == [*PUBLISHED, "oracle"]


def test_the_oracle_can_be_switched_off(bundle):
    cfg = offline(bundle, variants={})
    assert list(cfg.model_copy(update={"real": cfg.real.model_copy(update={"oracle_per_class": 0})}
                               ).variants) == PUBLISHED


def test_the_published_variants_are_variants_like_any_other(bundle):
    cfg = offline(bundle, variants={})
    v = cfg.variants
    assert v["synthetic-500"] == Variant(source={"size": 500}, description=v["synthetic-500"].description)
    assert v["pseudo-label"].pseudo_labels == Threshold(threshold=0.51)
    assert v["pseudo-label"].source.size == 1000 and v["oracle"].labels == "target"
    assert not v["oracle"].label_free and v["oracle"].target_labels.per_class is None
    assert cfg.labelled_by("pseudo-label") == "synthetic-1000"


def test_a_bare_word_is_that_choice_with_its_default_settings():
    short = Variant.model_validate({"trainer": "mcc", "pseudo_labels": None, "source": "aligned"})
    assert short.trainer == Mcc() and short.source.features == "aligned"
    assert Variant.model_validate({"pseudo_labels": "balanced", "mixing": 7, "rounds": 2,
                                   "reject": "entropy"}) == Variant(
        pseudo_labels=Balanced(), mixing={"ratio": 7}, rounds={"count": 2},
        reject={"score": "entropy", "share": 0.2})


def test_the_study_settings_fill_in_what_a_variant_leaves_open(bundle):
    cfg = offline(bundle, variants={"b": {"pseudo_labels": "balanced"}, "t": {"pseudo_labels": {
        "kind": "threshold", "threshold": 0.9}}})
    assert cfg.variants["b"].pseudo_labels == Balanced(threshold=0.51)
    assert cfg.variants["t"].pseudo_labels.threshold == 0.9
    assert cfg.variants["b"].source.size == 1000
    assert "class-balanced" in cfg.variants["b"].description


def test_a_new_combination_is_a_config_edit(bundle):
    cfg = offline(bundle, variants={"align": {"source": "aligned"}, "align+balanced+mix": {
        "source": "aligned", "pseudo_labels": "balanced", "mixing": 3, "reject": "entropy"}})
    v = cfg.variants["align+balanced+mix"]
    assert v.mixing.ratio == 3 and v.reject.score == "entropy" and v.reject.share == 0.2
    assert v.description.startswith("source images at the target resolution")
    assert cfg.labelled_by("align+balanced+mix") == "align"
    assert cfg.training_job("align+balanced+mix") == "pseudo-labels.aligned.plain"


@pytest.mark.parametrize("parts,part", [
    ({"trainer": "dann", "pseudo_labels": "threshold"}, "trainer"),
    ({"trainer": "mcc", "pseudo_labels": "threshold"}, "trainer"),
    ({"trainer": {"kind": "coral"}, "pseudo_labels": "balanced"}, "trainer"),
    ({"trainer": "im", "pseudo_labels": "threshold", "rounds": 2}, "trainer"),
    ({"mixing": 7}, "mixing"),
    ({"rounds": 3}, "rounds"),
    ({"reject": "energy"}, "reject"),
    ({"trainable": "last_block", "source": "aligned"}, "trainable"),
    ({"trainable": "last_block", "target": "adabn"}, "trainable"),
    ({"source": {"pixel": "fda"}}, "source"),
])
def test_impossible_combinations_name_the_variant_and_the_part(bundle, parts, part):
    with pytest.raises(ConfigError, match=rf"  - methods\.variants\.odd\.{part}: "):
        offline(bundle, variants={"odd": parts})


@pytest.mark.parametrize("key,value,shown", [
    ("pseudo_labels", {"kind": "threshold", "threshold": 1.5}, "pseudo_labels.threshold"),
    ("pseudo_labels", {"kind": "threshold", "threshold": "high"}, "pseudo_labels.threshold"),
    ("pseudo_labels", {"kind": "balanced", "share": 0}, "pseudo_labels.share"),
    ("pseudo_labels", "top-k", "pseudo_labels"),
    ("mixing", 0, "mixing.ratio"),
    ("mixing", 1.5, "mixing.ratio"),
    ("rounds", {"count": 11}, "rounds.count"),
    ("reject", {"score": "energy", "share": 1.0}, "reject.share"),
    ("trainer", {"kind": "mcc", "temperature": 0}, "trainer.temperature"),
    ("trainer", {"kind": "dann", "epochs": 0}, "trainer.epochs"),
    ("trainer", "svm", "trainer"),
    ("source", {"features": "upscaled"}, "source.features"),
    ("source", {"features": "aligned", "pixel": "dalle"}, "source.pixel"),
])
def test_every_setting_has_a_type_and_range_named_by_its_key(bundle, key, value, shown):
    parts = {key: value}
    if key in ("mixing", "reject"):
        parts["pseudo_labels"] = "threshold"
    with pytest.raises(ConfigError, match=rf"  - methods\.variants\.odd\.{shown}: "):
        offline(bundle, variants={"odd": parts})


def test_unknown_part_or_setting_is_named(bundle):
    with pytest.raises(ConfigError, match=r"methods\.variants\.odd\.trainr: unknown key"):
        offline(bundle, variants={"odd": {"trainr": "dann"}})
    with pytest.raises(ConfigError, match=r"methods\.variants\.odd\.trainer\.temprature: unknown key"):
        offline(bundle, variants={"odd": {"trainer": {"kind": "mcc", "temprature": 2}}})


def test_published_variant_names_are_reserved():
    with pytest.raises(ValueError, match="reserved"):
        Methods(variants={"pseudo-label": {"pseudo_labels": "threshold"}})


def test_a_variant_that_is_another_under_a_second_name_is_refused(bundle):
    with pytest.raises(ConfigError, match=r"threshold-0\.51 has every part equal to variant "
                                          r"'pseudo-label'"):
        offline(bundle, variants={"threshold-0.51": {"pseudo_labels": {"kind": "threshold",
                                                                       "threshold": 0.51}}})


def test_pseudo_labels_need_the_source_only_model_of_their_source_features(bundle):
    with pytest.raises(ConfigError, match=r"methods\.variants\.align\+pl\.pseudo_labels: .*aligned "
                                          r"source features .* `aligned: \{source: aligned\}`"):
        offline(bundle, variants={"align+pl": {"source": "aligned", "pseudo_labels": "threshold"}})


def test_a_size_the_study_does_not_generate_is_refused(bundle):
    with pytest.raises(ConfigError, match=r"methods\.variants\.small\.source\.size=300 is not one of"):
        offline(bundle, variants={"small": {"source": {"size": 300}}})


def test_each_distinct_model_is_trained_once(bundle):
    cfg = offline(bundle)
    assert cfg.trained_as("adabn") == "synthetic-1000" and cfg.trained_as("align+adabn") == "align"
    assert cfg.trained_as("adabn+pl") == "adabn+pl"  # its training reads AdaBN pool features
    assert cfg.trained_as("mcc") == "mcc"
    fits = [cfg.variants[v].fit() for v in cfg.variants if cfg.trained_as(v) == v]
    assert len({str(f) for f in fits}) == len(fits)


def test_training_jobs_group_variants_by_work_and_feature_kinds(bundle):
    jobs = offline(bundle).training_jobs()
    assert jobs["heads.plain.plain"] == ["synthetic-500", "synthetic-1000", "oracle"]
    assert jobs["shared.plain.adabn"] == ["adabn"]
    assert "pseudo-label" in jobs["pseudo-labels.plain.plain"]
    assert jobs["dann.aligned.plain"] == ["align+dann"]
    assert jobs["heads.block.block"] == ["block"]
    assert jobs["budget-bridged.block.block"] == [f"bridged@{b}" for b in (1, 3, 10, 30, 100, "all")]
    # The oracle is real-only at every photo: that budget reuses its models.
    assert jobs["budget-shared.plain.plain"] == ["real-only@all"]
    assert sorted(v for vs in jobs.values() for v in vs) == sorted(offline(bundle).trained)


def test_part_settings_have_their_published_defaults_once():
    assert (Mcc().temperature, Mcc().weight, Mcc().bottleneck, Coral().weight) == (2.5, 1.0, 256, 1.0)
    assert (Im().entropy, Im().diversity) == (1.0, 1.0)
    assert (Dann().hidden, Dann().domain_weight, Dann().ramp_gamma) == (256, 1.0, 10.0)
    assert Balanced().share == 0.5 and Threshold().threshold is None  # None: pseudo_label.threshold


def test_the_threshold_sweep_is_found_by_its_parts_not_its_name(bundle):
    cfg = offline(bundle)
    sweep = [v for v, spec in cfg.variants.items() if spec.threshold_only()]
    assert sweep == ["pseudo-label", "threshold-0.7", "threshold-0.8", "threshold-0.9",
                     "threshold-0.95"]
    assert threshold_only(cfg.variants["threshold-0.9"].model_dump(mode="json"))
    assert not threshold_only(cfg.variants["mix-1to7"].model_dump(mode="json"))


def test_a_pixel_part_is_its_own_feature_kind_on_the_aligned_source(bundle):
    cfg = offline(bundle)
    fda, align = cfg.variants["fda"], cfg.variants["align"]
    assert fda.feature_kinds == {**align.feature_kinds, "source": "fda"}
    assert cfg.trained_as("fda") == "fda"  # its own model: other training images
    jobs = cfg.training_jobs()
    assert jobs["heads.fda.plain"] == ["fda"] and jobs["im.mrgan.plain"] == ["mrgan+im"]
    assert jobs["budget-heads.mrgan.plain"] == [f"pooled+mrgan@{b}" for b in (1, 3, 10, 30, 100, "all")]
    assert "FDA-refined source images" in fda.description


def test_pixel_claims_pair_each_refined_variant_with_its_unrefined_twin(bundle):
    claims = {c.id: (c.a, c.b) for c in offline(bundle).claims}
    assert claims["refined-fda"] == ("fda", "align")
    assert claims["refined-simgan-im"] == ("simgan+im", "align+im")
    assert claims["two-stages-mrgan"] == ("mrgan", "cyclegan")
    assert claims["two-stages-mrgan-im"] == ("mrgan+im", "cyclegan+im")
    assert sum(i.startswith("refined-") for i in claims) == 8
    # A refined variant without an unrefined twin has no claim to judge.
    cfg = offline(bundle, variants={"cyclegan+mcc": {"source": {"features": "aligned",
                                                                "pixel": "cyclegan"},
                                                     "trainer": "mcc"}})
    assert [c.id for c in cfg.claims if c.id.startswith(("refined", "two"))] == []
