"""Method variants are combinations of parts; impossible ones fail naming variant and part."""

from __future__ import annotations

import pytest

from synth2real.config import load_file
from synth2real.config.methods import DEFAULT_VARIANTS, OBJECTIVES, Coral, Im, Mcc, Methods
from synth2real.errors import ConfigError
from tests.conftest import REPO

PUBLISHED = ["synthetic-500", "synthetic-1000", "pseudo-label"]


def offline(bundle, **methods):
    return load_file(REPO / "config" / "offline.yaml", {"bundle": str(bundle), **(
        {"methods": methods} if methods else {})})


def test_offline_config_declares_the_27_method_variants_in_order(bundle):
    cfg = offline(bundle)
    assert cfg.variants[:3] == PUBLISHED
    assert len(cfg.method_variants) == 27 and len(set(cfg.variants)) == len(cfg.variants)
    assert {"threshold-0.51", "threshold-0.95", "balanced", "self-training", "ood-energy", "adabn",
            "adabn+pl", "dann", "align", "align+adabn+pl", "mix-1to1", "mix-1to15", "mcc",
            "align+mcc", "coral", "align+coral", "im", "align+im"} <= set(cfg.variants)
    # The config file spells out exactly the code's defaults (nothing hides in either).
    assert dict(cfg.methods.variants) == DEFAULT_VARIANTS


def test_no_variants_runs_the_published_study_only(bundle):
    assert offline(bundle, variants={}).variants == [*PUBLISHED, "oracle"]


def test_the_oracle_can_be_switched_off(bundle):
    cfg = offline(bundle, variants={})
    assert cfg.model_copy(update={"real": cfg.real.model_copy(update={"oracle_per_class": 0})}
                          ).variants == PUBLISHED


def test_a_new_combination_is_a_config_edit(bundle):
    cfg = offline(bundle, variants={"align+balanced+mix": {"source": "aligned", "select": "balanced",
                                                           "mix_ratio": 3, "reject": "entropy"}})
    spec = cfg.methods.spec("align+balanced+mix", cfg.pseudo_label.threshold)
    assert spec["source"] == "aligned" and spec["mix_ratio"] == 3
    # Settings of the parts it uses come along (its rerun trigger); others do not.
    assert spec["threshold"] == 0.51 and spec["share"] == 0.5 and spec["reject_share"] == 0.2
    assert "dann" not in spec and "select_by" not in spec
    assert spec["description"].startswith("source images at the target resolution")
    assert "class-balanced" in spec["description"]


@pytest.mark.parametrize("parts,part", [
    ({"trainer": "dann", "select": "threshold"}, "trainer"),
    ({"trainer": "mcc", "select": "threshold"}, "trainer"),
    ({"trainer": "coral", "select": "balanced"}, "trainer"),
    ({"trainer": "im", "select": "threshold", "rounds": 2}, "trainer"),
    ({"mix_ratio": 7}, "mix_ratio"),
    ({"rounds": 3}, "rounds"),
    ({"reject": "energy"}, "reject"),
    ({"threshold": 0.7}, "threshold"),
])
def test_impossible_combinations_name_the_variant_and_the_part(bundle, parts, part):
    with pytest.raises(ConfigError) as e:
        offline(bundle, variants={"odd": parts})
    assert "methods.variants.odd" in str(e.value) and repr(part) in str(e.value)


def test_unknown_part_or_choice_is_named(bundle):
    with pytest.raises(ConfigError, match=r"methods\.variants\.odd\.trainr: unknown key"):
        offline(bundle, variants={"odd": {"trainr": "dann"}})
    with pytest.raises(ConfigError, match=r"methods\.variants\.odd\.source"):
        offline(bundle, variants={"odd": {"source": "upscaled"}})


def test_published_variant_names_are_reserved():
    with pytest.raises(ValueError, match="reserved"):
        Methods(variants={"pseudo-label": {"select": "threshold"}})


def test_paper_config_declares_the_same_variants_and_objective_settings():
    paper = load_file(REPO / "config" / "paper.yaml")
    assert dict(paper.methods.variants) == DEFAULT_VARIANTS
    assert (paper.methods.mcc, paper.methods.coral, paper.methods.im) == (Mcc(), Coral(), Im())


@pytest.mark.parametrize("trainer", sorted(OBJECTIVES))
def test_a_pool_objective_brings_its_settings_and_only_those(trainer):
    methods = Methods(variants={"v": {"source": "aligned", "trainer": trainer}},
                      mcc={"temperature": 3.0}, coral={"weight": 0.5}, im={"diversity": 0.5})
    spec = methods.spec("v", 0.9)
    assert spec[trainer] == getattr(methods, trainer).model_dump()
    assert spec[trainer]["bottleneck"] == 256  # TLL's bottleneck width
    assert not ({"dann", "share", *OBJECTIVES} - {trainer}) & set(spec)
    # A changed setting changes the spec: the variant reruns.
    changed = Methods(variants=methods.variants, **{trainer: {"bottleneck": 64}})
    assert changed.spec("v", 0.9) != spec
    assert spec["description"].startswith("source images at the target resolution + ")
    assert {"mcc": "MCC", "coral": "CORAL", "im": "information maximisation"}[trainer] \
        in spec["description"]


def test_objective_defaults_are_the_published_ones():
    assert (Mcc().temperature, Mcc().weight, Coral().weight) == (2.5, 1.0, 1.0)
    assert (Im().entropy, Im().diversity) == (1.0, 1.0)


def test_objective_settings_are_validated_naming_the_key(bundle):
    with pytest.raises(ConfigError, match=r"methods\.mcc\.temperature"):
        offline(bundle, mcc={"temperature": 0})
    with pytest.raises(ConfigError, match=r"methods\.im\.entropy_weight: unknown key"):
        offline(bundle, im={"entropy_weight": 1.0})
