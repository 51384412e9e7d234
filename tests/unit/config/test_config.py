"""Config validation: defaults are the published study; bad values fail naming the key."""

from __future__ import annotations

import pytest
import yaml

from synth2real.config import load, load_file
from synth2real.errors import ConfigError
from tests.conftest import REPO


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
    assert cfg.variants[:3] == cfg.core_variants


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
    raw = offline_raw(bundle)
    node = raw
    *path, last = key.split(".")
    for p in path:
        node = node[p]
    node[last] = value
    with pytest.raises(ConfigError, match=expected):
        load(raw)


def test_bad_sha256_format_rejected(bundle):
    raw = offline_raw(bundle)
    raw["backbone"]["weights"]["sha256"] = "abc"
    with pytest.raises(ConfigError, match=r"backbone\.weights\.sha256"):
        load(raw)
