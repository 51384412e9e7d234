"""Config validation: defaults are the published study; bad values fail naming the key."""

from __future__ import annotations

import pytest
import yaml

from synth2real.config import Demo, load, load_file
from synth2real.errors import ConfigError
from tests.conftest import REPO, set_key


def offline_raw(bundle) -> dict:
    raw = yaml.safe_load((REPO / "config" / "offline.yaml").read_text())
    raw["bundle"] = str(bundle)
    return raw


def test_paper_config_has_the_published_settings():
    cfg = load_file(REPO / "config" / "paper.yaml")
    assert cfg.classes == ["dog", "cat", "bird"]
    assert cfg.synthetic.sizes == [500, 1000] and cfg.synthetic.val_fraction == 0.2
    t = cfg.train
    assert (t.optimizer, t.lr, t.step_size, t.gamma, t.epochs) == ("adam", 1e-3, 7, 0.1, 25)
    assert cfg.pseudo_label.threshold == 0.51 and cfg.pseudo_source_variant == "synthetic-1000"
    assert cfg.real.ood_fraction == 0.1 and len(cfg.seeds) == 5
    assert cfg.synthetic.source.kind == "diffusers" and cfg.real.source.kind == "stl10"
    assert cfg.backbone.weights.kind == "torchvision"
    assert cfg.core_variants == ["synthetic-500", "synthetic-1000", "pseudo-label"]
    assert list(cfg.variants)[:3] == cfg.core_variants


def test_offline_config_substitutes_bundle(bundle):
    cfg = load(offline_raw(bundle))
    assert cfg.synthetic.source.root == f"{bundle}/source/tiny-imagenet"
    assert cfg.backbone.weights.path.startswith(str(bundle))


def test_bundle_placeholder_without_bundle_names_the_key():
    raw = yaml.safe_load((REPO / "config" / "offline.yaml").read_text())
    with pytest.raises(ConfigError, match=r"synthetic\.source\.root.*BUNDLE="):
        load(raw)


def test_missing_bundle_folder_is_named(tmp_path):
    raw = offline_raw(tmp_path / "nope")
    with pytest.raises(ConfigError, match="bundle folder .*nope.* does not exist"):
        load(raw)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("pseudo_label.threshold", 1.5, r"pseudo_label\.threshold: .*less than 1.*got 1\.5"),
        ("pseudo_label.threshold", 0.0, r"pseudo_label\.threshold: .*greater than 0"),
        ("train.optimizer", "sgd", r"train\.optimizer: .*'adam'.*got 'sgd'"),
        ("train.epochs", 0, r"train\.epochs: .*greater than or equal to 1"),
        ("real.ood_fraction", 1.2, r"real\.ood_fraction"),
        ("synthetic.sizes", [1000, 500], r"synthetic\.sizes must be distinct, ascending"),
        ("pseudo_label.source_size", 700, r"source_size=700 is not one of"),
        ("train.lr_typo", 1, r"train\.lr_typo: unknown key"),
        ("real.source.kind", "imagenet", r"real\.source: unknown kind 'imagenet'"),
        ("features.engine", "tensorrt", r"features\.engine: .*'onnxruntime' or 'torch'"),
    ],
)
def test_invalid_values_name_key_value_and_allowed(bundle, key, value, expected):
    with pytest.raises(ConfigError, match=expected):
        load(set_key(offline_raw(bundle), key, value))


def test_bad_sha256_format_rejected(bundle):
    raw = offline_raw(bundle)
    raw["backbone"]["weights"]["sha256"] = "abc"
    with pytest.raises(ConfigError, match=r"backbone\.weights\.sha256"):
        load(raw)


# ------------------------------------------------- every section's bad keys --

# A method variant's parts with settings, in their long form (the config writes most short).
PART_SECTIONS = {
    "methods.variants.balanced.pseudo_labels": {"kind": "balanced"},
    "methods.variants.mcc.trainer": {"kind": "mcc"},
    "methods.variants.dann.trainer": {"kind": "dann"},
    "methods.variants.ood-energy.reject": {"score": "energy"},
    "methods.variants.self-training.rounds": {"count": 3},
    "methods.variants.mix-1to7.mixing": {"ratio": 7},
    "methods.variants.align.source": {"features": "aligned"},
}
# Every section and sub-section with settings of its own, down to a method variant's parts.
SECTIONS = ["synthetic", "synthetic.source", "real", "real.source", "backbone", "backbone.weights",
            "features", "train", "pseudo_label", "methods", "methods.variants.balanced",
            *PART_SECTIONS, "methods.adabn", "methods.align", "export",
            "demo", "evaluation", "evaluation.bootstrap", "evaluation.claims"]


@pytest.mark.parametrize("section", SECTIONS)
def test_an_unknown_key_in_any_section_is_named(tmp_path, section):
    raw = offline_raw(tmp_path)
    if section in PART_SECTIONS:
        set_key(raw, section, dict(PART_SECTIONS[section]))
    with pytest.raises(ConfigError) as e:
        load(set_key(raw, f"{section}.colour", "blue"))
    assert f"  - {section}.colour: unknown key" in str(e.value)


def test_an_unknown_top_level_key_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"  - pseudolabel: unknown key"):
        load({**offline_raw(tmp_path), "pseudolabel": {"threshold": 0.9}})


# One out-of-range or mistyped value per section; the message names the dotted key and the value.
BAD_VALUES = {
    "name": "two words",
    "data_seed": "zero",
    "synthetic.val_fraction": 1.0,
    "synthetic.source.root": 7,
    "real.target_val_per_class": 0,
    "real.oracle_per_class": -1,
    "backbone.image_size": 16,
    "backbone.weights.sha256": "not-a-digest",
    "features.batch_size": 0,
    "train.lr": 0,
    "pseudo_label.threshold": 1.0,
    "methods.domain_sample": 5,
    "methods.variants.self-training.rounds.count": 11,
    "methods.variants.balanced.pseudo_labels": "all",
    "methods.variants.mix-1to7.mixing.ratio": 0,
    "methods.variants.ood-energy.reject.share": 1.5,
    "export.opset": 12,
    "demo.unsure_threshold": 1.0,
    "demo.max_upload_mb": 0,
    "evaluation.deploy_criterion": "test_acc",  # never test accuracy
    "evaluation.bootstrap.level": 0.4,
    "evaluation.claims.interval": "p-value",
}


@pytest.mark.parametrize("key", BAD_VALUES)
def test_a_bad_value_in_any_section_is_named_with_the_value(tmp_path, key):
    value = BAD_VALUES[key]
    raw = offline_raw(tmp_path)
    for section, long_form in PART_SECTIONS.items():
        if key.startswith(section + "."):
            set_key(raw, section, dict(long_form))
    with pytest.raises(ConfigError) as e:
        load(set_key(raw, key, value))
    assert f"  - {key}: " in str(e.value) and f"(got {value!r})" in str(e.value), str(e.value)


@pytest.mark.parametrize(("key", "value", "message"), [
    ("seeds", [0, 1, 0], "seeds has duplicates: [0, 1, 0]"),
    ("classes", ["dog", "cat", "dog"], "classes has duplicates: ['dog', 'cat', 'dog']"),
    ("seeds", [], "  - seeds: List should have at least 1 item"),
    ("export.seed", 7, "export.seed=7 is not one of seeds=[0, 1, 2, 3, 4]"),
])
def test_duplicate_or_missing_seeds_and_classes_are_rejected(tmp_path, key, value, message):
    with pytest.raises(ConfigError) as e:
        load(set_key(offline_raw(tmp_path), key, value))
    assert message in str(e.value)


def test_several_errors_are_reported_together(tmp_path):
    bad = {"train.epochs": 0, "methods.variants.odd": {"trainer": "svm"}, "export.colour": 1,
           "demo.max_upload_mb": -1, "evaluation.deploy_criterion": "test_acc"}
    raw = offline_raw(tmp_path)
    for key, value in bad.items():
        set_key(raw, key, value)
    with pytest.raises(ConfigError) as e:
        load(raw)
    lines = [line for line in str(e.value).splitlines() if line.startswith("  - ")]
    named = {line[4:].split(":")[0] for line in lines}
    assert named == {"train.epochs", "methods.variants.odd.trainer", "export.colour",
                     "demo.max_upload_mb", "evaluation.deploy_criterion"}, str(e.value)


# ------------------------------------------------ the demo's own reader --


def test_the_demo_reads_the_same_non_default_demo_section(tmp_path):
    """`synth2real demo --config` reads only the `demo:` section (no bundle needed); it must
    agree with the study's loader on a config whose demo settings are not the defaults."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("demo_app", REPO / "demo" / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    raw = set_key(offline_raw(tmp_path), "demo", {"unsure_threshold": 0.75, "max_upload_mb": 2.5})
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(raw))
    settings = app.demo_settings(str(path))
    assert (settings.unsure_threshold, settings.max_upload_mb) == (0.75, 2.5)
    assert settings != Demo() and load_file(path).demo == settings
