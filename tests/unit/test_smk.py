"""smk.run's binding: a rule's params become keyword arguments, config sections typed; and
settings other than the defaults travel from the config through validation and the binding
into the code that uses them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from synth2real.adapt import variants
from synth2real.adapt.variants import train_variant
from synth2real.analysis.summary import summarize
from synth2real.config import Study, Train, load
from synth2real.data import manifests
from synth2real.data.manifests import real_manifests
from synth2real.errors import ConfigError
from synth2real.model.backbone import export_backbone
from synth2real.model.head import train_head
from synth2real.model.train import train_baseline
from synth2real.smk import bind_params, validate
from tests.conftest import set_key
from tests.unit.analysis.test_summary import N, metrics
from tests.unit.config.test_config import offline_raw


def stage(out: str, *, train: Train, seeds: list[int]) -> None:
    """A stage reading one config section and one plain value."""


def test_sections_arrive_validated_and_plain_values_as_given():
    kw = bind_params(stage, {"train": {"epochs": 3}, "seeds": [0, 1]})
    assert isinstance(kw["train"], Train) and kw["train"].epochs == 3 and kw["train"].lr == 1e-3
    assert kw["seeds"] == [0, 1]


def test_a_param_the_stage_does_not_read_is_an_error():
    with pytest.raises(ConfigError, match="'extra' is not an argument of .*stage"):
        bind_params(stage, {"train": {}, "seeds": [0], "extra": 1})


def test_a_bad_section_value_is_rejected():
    with pytest.raises(ValueError, match="epochs"):
        bind_params(stage, {"train": {"epochs": 0}, "seeds": [0]})


# ------------------------------------- non-default settings reach the code --

# Values that neither the defaults nor config/offline.yaml use, set in the offline config and
# validated as the Snakefile does; each must arrive where the workflow uses it.
NON_DEFAULT = {
    "real.test_per_class": 4,
    "real.pool_size": 30,
    "real.target_val_per_class": 7,
    "real.oracle_per_class": 2,
    "train.epochs": 2,
    "backbone.image_size": 32,
    "export.opset": 17,
    "methods.variants": {"balanced": {"select": "balanced"}},
    "methods.balanced.share": 0.25,
    "evaluation.deploy_criterion": "pool_entropy",
    "evaluation.bootstrap.resamples": 200,
}


def _get(node, key: str):
    for part in key.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node


@pytest.fixture(scope="module")
def configured(bundle) -> tuple[dict, Study]:
    """(the `config` dict the rules' params read, the validated Study), as in the Snakefile."""
    config = offline_raw(bundle)
    for key, value in NON_DEFAULT.items():
        set_key(config, key, value)
    study = validate(config)
    return config, study


def test_the_values_are_not_the_defaults_nor_the_config_files(bundle, configured):
    plain = load(offline_raw(bundle)).model_dump(mode="json")
    for key, value in NON_DEFAULT.items():
        got = _get(configured[0], key)  # as validated, in the `config` the rules read
        assert got != _get(plain, key), key
        assert got == value or isinstance(value, dict), key


def test_real_section_reaches_the_manifests(configured, tmp_path):
    config, _ = configured
    kw = bind_params(real_manifests, {"real": config["real"], "classes": config["classes"],
                                      "data_seed": config["data_seed"]})
    out = [str(tmp_path / f"{n}.csv") for n in ("test", "pool", "target")]
    real_manifests(*out, **kw)
    test, pool, target = (manifests.read_csv(p) for p in out)
    assert len(test) == 3 * 4 and len(pool) == 30
    for cls in config["classes"]:
        mine = [r["split"] for r in target if r["label"] == cls]
        assert (mine.count("val"), mine.count("oracle")) == (7, 2), cls


def test_train_section_reaches_the_head_trainer(configured):
    config, _ = configured
    kw = bind_params(train_baseline, {"train": config["train"], "classes": config["classes"],
                                      "seeds": config["seeds"]})
    X = np.random.default_rng(0).normal(size=(12, 5)).astype(np.float32)
    _, hist = train_head(X, np.arange(12) % 3, 3, kw["train"], seed=0)
    assert len(hist.loss) == len(hist.lr) == 2


def test_backbone_and_export_sections_reach_the_onnx_backbone(configured, tmp_path):
    import onnx

    config, _ = configured
    kw = bind_params(export_backbone, {k: config[k] for k in ("backbone", "features", "export")})
    export_backbone(str(tmp_path / "bb.onnx"), str(tmp_path / "bb.json"), **kw)
    model = onnx.load(str(tmp_path / "bb.onnx"))
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [17]
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims[1:]] == [3, 32, 32]


def test_methods_section_reaches_pseudo_labelling(configured):
    config, study = configured
    spec = study.methods.spec("balanced", study.pseudo_label.threshold)
    kw = bind_params(train_variant, {
        "spec": spec, "train": config["train"], "source_size": config["pseudo_label"]["source_size"],
        "domain_sample": config["methods"]["domain_sample"], "data_seed": config["data_seed"],
        "classes": config["classes"], "seeds": config["seeds"]})
    # 60 pool images, 20 confidently predicted per class: share 0.25 keeps 5 per class.
    pool = np.eye(3, dtype=np.float32)[np.arange(60) % 3] * 10
    model = torch.nn.Linear(3, 3, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.eye(3))
    data = variants.Data(train=None, val=None, pool=pool, pool_true=["dog", "cat", "bird"] * 20,
                         pool_in_domain=[1] * 60, test=None, target_val=None)
    idx, labels, _ = variants.pseudo_label(kw["spec"], model, data, config["classes"])
    assert len(idx) == 15 and np.bincount(labels).tolist() == [5, 5, 5]


def test_evaluation_section_reaches_the_summary(configured, tmp_path):
    config, study = configured
    y = np.arange(N) % 3
    test_csv = tmp_path / "test.csv"
    test_csv.write_text("label\n" + "".join(f"{config['classes'][k]}\n" for k in y))
    files = {}
    for v in study.variants:
        files[v] = []
        for s in study.seeds:
            path = tmp_path / f"{v}-{s}.json"
            path.write_text(json.dumps(metrics(v, 0.6, {}, y, s)))
            files[v].append(str(path))
    kw = bind_params(summarize, {"study": config})
    summarize(files, str(test_csv), str(tmp_path / "summary.json"), str(tmp_path / "prov.json"), **kw)
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["selection"]["deploy_criterion"] == "pool_entropy"
    assert s["intervals"]["resamples"] == 200
    assert list(s["variants"]) == ["synthetic-500", "synthetic-1000", "pseudo-label", "balanced",
                                   "oracle"]
