"""smk.run's binding: a rule's named inputs, outputs and params become a stage's keyword
arguments, typed; and settings other than the defaults travel from the config through
validation and the binding into the code that uses them."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from snakemake.iocontainers import InputFiles, Log, OutputFiles, Params, Wildcards

from synth2real.adapt import engine
from synth2real.analysis.summary import summarize
from synth2real.config import Study, Train, Variant, load
from synth2real.data import manifests
from synth2real.data.imagesets import ImageSet
from synth2real.data.manifests import real_manifests
from synth2real.errors import ConfigError
from synth2real.model.backbone import export_backbone
from synth2real.smk import bind, validate
from tests.conftest import set_key
from tests.unit.adapt.test_engine import write_sets
from tests.unit.analysis.test_summary import N, metrics
from tests.unit.config.test_config import offline_raw


def job(input=None, output=None, params=None, wildcards=None, log=None):
    """A Snakemake job's named values, in Snakemake's own containers."""
    return SimpleNamespace(rule="r", input=InputFiles(fromdict=input or {}),
                           output=OutputFiles(fromdict=output or {}),
                           params=Params(fromdict=params or {}),
                           wildcards=Wildcards(fromdict=wildcards or {}),
                           log=Log(fromdict=log or {}))


def stage(pool: ImageSet, report: str, models: list[str], out: str, *, train: Train,
          seeds: list[int], size: int, extra: str = "x") -> None:
    """A stage with an image set, one-file and several-file arguments, a config section, a
    plain value and a wildcard."""


def test_named_values_arrive_typed_by_the_stages_annotations():
    kw = bind(stage, job(input={"pool": ["p.csv", "p.npz"], "report": "r.json", "models": "m.pt"},
                         output={"out": "o.json"}, params={"train": {"epochs": 3}, "seeds": [0, 1]},
                         wildcards={"size": "500", "other": "ignored"}, log={"latex": "l.log"}))
    assert kw["pool"] == ImageSet("pool", "p.csv", "p.npz")
    assert kw["report"] == "r.json" and kw["models"] == ["m.pt"] and kw["out"] == "o.json"
    assert isinstance(kw["train"], Train) and kw["train"].epochs == 3 and kw["train"].lr == 1e-3
    assert kw["seeds"] == [0, 1] and kw["size"] == 500 and "other" not in kw and "extra" not in kw


BASE = {"input": {"pool": ["p.csv", "p.npz"], "report": "r.json", "models": ["a", "b"]},
        "output": {"out": "o"}, "params": {"train": {}, "seeds": [0]}, "wildcards": {"size": "1"}}


def with_(**changes):
    out = {k: dict(v) for k, v in BASE.items()}
    for key, value in changes.items():
        where, name = key.split("__")
        if value is None:
            out[where].pop(name)
        else:
            out[where][name] = value
    return job(**out)


@pytest.mark.parametrize("changes,message", [
    ({"params__colour": "blue"}, r"params 'colour' is not an argument of .*stage"),
    ({"input__stale": "s.csv"}, r"input 'stale' is not an argument"),
    ({"input__report": None}, r"names no input, output, param or wildcard \['report'\]"),
    ({"params__out": "x"}, r"'out' is both a output and a params"),
    ({"input__report": ["a", "b"]}, r"'report' names one file in the stage, but the rule gives 2"),
    ({"input__pool": ["p.npz", "p.csv"]}, r"\[manifest\.csv, features\.npz\]"),
])
def test_a_mismatch_between_rule_and_stage_is_an_error_naming_it(changes, message):
    with pytest.raises((ConfigError, ValueError), match=message):
        bind(stage, with_(**changes))


def test_a_bad_section_value_is_rejected():
    with pytest.raises(ValueError, match="epochs"):
        bind(stage, with_(params__train={"epochs": 0}))


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
    "methods.variants": {"balanced": {"pseudo_labels": {"kind": "balanced", "share": 0.25}}},
    "evaluation.deploy_criterion": "pool_entropy",
    "evaluation.candidates": ["pseudo-label", "balanced"],
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
    out = {n: str(tmp_path / f"{n}.csv") for n in ("real_test", "pool", "target_labeled")}
    real_manifests(**bind(real_manifests, job(output=out, params={
        k: config[k] for k in ("real", "classes", "data_seed")})))
    test, pool, target = (manifests.read_csv(out[n]) for n in out)
    assert len(test) == 3 * 4 and len(pool) == 30
    for cls in config["classes"]:
        mine = [r["split"] for r in target if r["label"] == cls]
        assert (mine.count("val"), mine.count("oracle")) == (7, 2), cls


def test_backbone_and_export_sections_reach_the_onnx_backbone(configured, tmp_path):
    import onnx

    config, _ = configured
    export_backbone(**bind(export_backbone, job(
        output={"onnx": str(tmp_path / "bb.onnx"), "info": str(tmp_path / "bb.json")},
        params={k: config[k] for k in ("backbone", "features", "export")})))
    model = onnx.load(str(tmp_path / "bb.onnx"))
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [17]
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims[1:]] == [3, 32, 32]


def test_variant_and_train_sections_reach_the_engine(configured, tmp_path):
    config, study = configured
    sets = write_sets(tmp_path / "sets")
    first = tmp_path / "first"
    heads = [str(first / f"s{s}.pt") for s in study.seeds]
    common = {"train": config["train"], "domain_sample": 20, "data_seed": 0,
              "classes": config["classes"], "seeds": study.seeds}

    def files(root, names):
        return {k: [str(root / f"{v}-{s}.{k}") for v in names for s in study.seeds]
                for k in ("heads", "metrics", "provenance", "accepted")}

    engine.train_variants(**bind(engine.train_variants, job(
        input={n: [s["plain"].manifest, s["plain"].features] for n, s in sets.items()},
        output={**files(first, ["src"]), "heads": heads},
        params={"variants": {"src": Variant(source={"size": 20}).model_dump(mode="json")},
                **common})))
    spec = study.variants["balanced"].model_copy(update={"source": Variant(source={"size": 20}).source})
    out = files(tmp_path / "pl", ["balanced"])
    engine.train_variants(**bind(engine.train_variants, job(
        input={**{n: [s["plain"].manifest, s["plain"].features] for n, s in sets.items()},
               "labelling_models": heads},
        output=out, params={"variants": {"balanced": spec.model_dump(mode="json")},
                            "labellers": {"balanced": "src"}, **common})))
    m = json.loads(Path(out["metrics"][0]).read_text())
    assert len(m["history"]["loss"]) == 2  # train.epochs
    # 60 pool images, share 0.25: at most 0.25 * 60 / 3 = 5 pseudo-labels per predicted class.
    assert max(m["pseudo_label"]["accepted_per_class"].values()) <= 5
    assert m["pseudo_label"]["accepted"] >= 10 and m["method"]["pseudo_labels"]["share"] == 0.25


def test_evaluation_section_reaches_the_summary_written_from_files(configured, tmp_path):
    config, study = configured
    y = np.arange(N) % 3
    test_csv = tmp_path / "test.csv"
    test_csv.write_text("label\n" + "".join(f"{config['classes'][k]}\n" for k in y))
    files = []
    for v in study.variants:
        for s in study.seeds:
            path = tmp_path / f"{v}-{s}.json"
            path.write_text(json.dumps(metrics(v, 0.6, {}, y, s)))
            files.append(str(path))
    params = {"study": config["name"], "offline": True, "classes": config["classes"],
              "seeds": study.seeds, "variants": list(study.variants),
              "roles": study.roles.model_dump(), "evaluation": config["evaluation"],
              "claims": [c.model_dump() for c in study.claims]}
    summarize(**bind(summarize, job(input={"metrics": files, "real_test": str(test_csv)},
                                    output={"summary": str(tmp_path / "summary.json")},
                                    params=params)))
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["model_selection"]["deploy_criterion"] == "pool_entropy"
    assert s["model_selection"]["candidates"] == ["pseudo-label", "balanced"]
    assert s["intervals"]["resamples"] == 200
    assert list(s["variants"]) == ["synthetic-500", "synthetic-1000", "pseudo-label", "balanced",
                                   "oracle"]
    # Each variant's files went to that variant: seed s of variant v predicted as metrics() made it.
    for v in study.variants:
        assert s["variants"][v]["test_acc"]["per_seed"]["0"] == pytest.approx(
            metrics(v, 0.6, {}, y, 0)["test"]["acc"])
