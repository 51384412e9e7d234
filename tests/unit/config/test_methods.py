"""Method variants are combinations of parts; impossible ones fail naming variant and part."""

from __future__ import annotations

import pytest

from synth2real.config import load_file
from synth2real.config.methods import DEFAULT_VARIANTS, Methods
from synth2real.errors import ConfigError
from tests.conftest import REPO

PUBLISHED = ["synthetic-500", "synthetic-1000", "pseudo-label"]


def offline(bundle, **methods):
    return load_file(REPO / "config" / "offline.yaml", {"bundle": str(bundle), **(
        {"methods": methods} if methods else {})})


def test_offline_config_declares_the_24_variants_in_order(bundle):
    cfg = offline(bundle)
    assert cfg.variants[:3] == PUBLISHED
    assert len(cfg.variants) == 24 and len(set(cfg.variants)) == 24
    assert {"threshold-0.51", "threshold-0.95", "balanced", "self-training", "ood-energy", "adabn",
            "adabn+pl", "dann", "align", "align+adabn+pl", "mix-1to1", "mix-1to15"} <= set(cfg.variants)
    # The config file spells out exactly the code's defaults (nothing hides in either).
    assert dict(cfg.methods.variants) == DEFAULT_VARIANTS


def test_no_variants_runs_the_published_study_only(bundle):
    assert offline(bundle, variants={}).variants == PUBLISHED


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
