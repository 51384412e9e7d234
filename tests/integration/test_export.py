"""ONNX export on the tiny run: contract, metadata, parity, and agreement with the pipeline."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import yaml

from synth2real import config, provenance
from synth2real.data import manifests
from synth2real.data.imagesets import ImageSet, read_features
from synth2real.model import export
from synth2real.model import head as heads
from synth2real.model.backbone import graph_version
from synth2real.predict import Predictor, load_image, preprocess

FIXED = {"baseline": "synthetic-20", "study": "pseudo-label"}  # tiny_config: source_size 20
ROLE_NAMES = ("baseline", "study", "adapted")


def _cfg(tiny_run: Path, tiny_bundle: Path) -> config.Study:
    raw = yaml.safe_load((tiny_run / "tiny.yaml").read_text())
    return config.load({**raw, "bundle": str(tiny_bundle)})


def _test_rows(tiny_run: Path) -> list[dict[str, str]]:
    return manifests.read_csv(tiny_run / "results" / "data" / "real_test.csv")


def _card(tiny_run: Path) -> dict:
    return json.loads((tiny_run / "models" / "card.json").read_text())


def _roles(tiny_run: Path) -> dict[str, str]:
    return {r: e["variant"] for r, e in _card(tiny_run)["models"].items()}


def _export(tiny_run: Path, cfg: config.Study, deploy_json: Path, out: Path) -> None:
    """The export stage called as its rule calls it, every candidate's head available."""
    r = tiny_run / "results"
    cands = [v for v, spec in cfg.variants.items() if spec.label_free]
    kinds = {v: cfg.variants[v].feature_kinds["real_test"] for v in cands}
    export.export_models(
        str(r / "backbone/backbone.json"), str(r / "data/real_test.csv"), str(deploy_json),
        [str(r / f"heads/{v}/seed0/head.pt") for v in cands],
        [str(r / f"features/{k}/real_test.npz") for k in sorted(set(kinds.values()))],
        **{role: str(out / f"{role}.onnx") for role in ROLE_NAMES}, parity=str(out / "parity.json"),
        candidates=cands, feature_kinds=kinds, export=cfg.export, features=cfg.features,
        classes=cfg.classes, name=cfg.name,
        adabn_backbone=str(r / "backbone/adabn.onnx") if "adabn" in kinds.values() else None,
        backbone_onnx=str(r / "backbone/backbone.onnx") if "block" in kinds.values() else None)


def test_parity_report_covers_whole_test_set(tiny_run):
    report = json.loads((tiny_run / "models" / "parity.json").read_text())
    assert report["passed"] is True
    assert report["test_images"] == len(_test_rows(tiny_run)) == 30
    assert report["parity_tol"] == 1e-4 and report["image_size"] == 64
    assert report["reference"] == "torch head on cached backbone features"
    roles = _roles(tiny_run)
    assert set(report["models"]) == set(ROLE_NAMES) and FIXED.items() <= roles.items()
    for role, variant in roles.items():
        m = report["models"][role]
        assert m["variant"] == variant
        assert 0.0 <= m["max_abs_logit_diff"] <= 1e-4
        assert m["top1_mismatches"] == 0 and m["top1_mismatch_images"] == []
        assert m["onnx_test_acc"] == pytest.approx(_card(tiny_run)["models"][role]["test_accuracy"])


def test_adapted_is_the_deploy_criterions_pick(tiny_run, tiny_bundle):
    summary = json.loads((tiny_run / "results" / "summary.json").read_text())
    sel = summary["model_selection"]
    card = _card(tiny_run)
    assert card["deploy_criterion"] == sel["deploy_criterion"] == _cfg(
        tiny_run, tiny_bundle).evaluation.deploy_criterion
    assert card["models"]["adapted"]["variant"] == sel["criteria"][sel["deploy_criterion"]]["variant"]
    assert card["models"]["adapted"]["selection_criterion"] == sel["deploy_criterion"]


def test_model_card_matches_card_json(tiny_run):
    card = _card(tiny_run)
    assert {"classes", "target_domain", "image_size", "deploy_criterion", "models", "differences",
            "adaptation_helps"} <= set(card)
    assert card["classes"] == ["dog", "cat", "bird"] and card["image_size"] == 64
    for role, e in card["models"].items():
        assert {"variant", "seed", "selection_criterion", "test_accuracy", "test_accuracy_ci",
                "test_images", "onnx"} <= set(e)
        assert e["onnx"] == f"{role}.onnx" and e["test_images"] == 30
        assert e["test_accuracy_ci"][0] <= e["test_accuracy"] <= e["test_accuracy_ci"][1]
    for role in ("adapted", "study"):
        d = card["differences"][role]
        assert d["vs"] == "baseline" and d["ci"][0] <= d["diff"] <= d["ci"][1]
    assert card["adaptation_helps"] == (card["differences"]["adapted"]["ci"][0] > 0)
    text = (tiny_run / "models" / "README.md").read_text()
    for role, e in card["models"].items():
        row = next(line for line in text.splitlines() if line.startswith(f"| {role} |"))
        assert f"{100 * e['test_accuracy']:.2f}%" in row and f"`{e['variant']}`" in row
    assert card["target_domain"] in text


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_onnx_contract_and_metadata(tiny_run, tiny_bundle, role):
    path = tiny_run / "models" / f"{role}.onnx"
    proto = onnx.load(str(path), load_external_data=False)
    onnx.checker.check_model(proto, full_check=True)
    # Self-contained: every initializer holds its data inside the file.
    assert all(t.data_location == onnx.TensorProto.DEFAULT for t in proto.graph.initializer)
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "README.md", "adapted.onnx", "baseline.onnx", "card.json", "parity.json", "study.onnx"]
    assert {o.domain or "ai.onnx": o.version for o in proto.opset_import}["ai.onnx"] == 18

    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert inp.name == "image" and out.name == "logits"
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert dims == ["N", 3, 64, 64]
    assert [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim] == ["N", 3]

    meta = {p.key: p.value for p in proto.metadata_props}
    card = _card(tiny_run)
    entry = card["models"][role]
    assert set(export.METADATA_KEYS) <= set(meta)
    assert json.loads(meta["class_names"]) == ["dog", "cat", "bird"]
    assert meta["input_size"] == "64" and meta["variant"] == entry["variant"] and meta["role"] == role
    assert "shorter side" in meta["resize_policy"] and "centre-crop" in meta["resize_policy"]
    assert meta["seed"] == "0" and meta["selection_criterion"] == entry["selection_criterion"]
    metrics = json.loads(
        (tiny_run / f"results/heads/{entry['variant']}/seed0/metrics.json").read_text())
    assert float(meta["test_accuracy"]) == metrics["test"]["acc"] == entry["test_accuracy"]
    assert json.loads(meta["test_accuracy_ci"]) == entry["test_accuracy_ci"]
    assert meta["test_images"] == "30" and meta["target_domain"] == card["target_domain"]
    assert entry["variant"] in proto.doc_string and card["target_domain"] in proto.doc_string
    assert proto.model_version == graph_version(proto) > 0
    # The hash of exactly the config sections the export rule declares (its rerun trigger).
    cfg = _cfg(tiny_run, tiny_bundle)
    assert meta["config_hash"] == provenance.config_hash(
        {"roles": _roles(tiny_run), "export": cfg.export, "features": cfg.features,
         "classes": cfg.classes, "name": cfg.name})
    assert meta["git_commit"] and meta["git_commit"] != "unknown"


def test_dynamic_batch(tiny_run):
    pred = Predictor(tiny_run / "models" / "adapted.onnx")
    rows = _test_rows(tiny_run)
    batch = np.stack([preprocess(load_image(r["path"]), 64) for r in rows[:7]])
    one_by_one = np.concatenate([pred.logits(batch[i : i + 1]) for i in range(7)])
    together = pred.logits(batch)
    assert together.shape == (7, 3)
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_predictor_agrees_with_pipeline_evaluation(tiny_run, role):
    """The torch-free predictor on image files == the pipeline's head on cached features."""
    rows = _test_rows(tiny_run)
    paths = [r["path"] for r in rows]
    variant = _roles(tiny_run)[role]
    head, classes = heads.load(tiny_run / f"results/heads/{variant}/seed0/head.pt")
    npz = json.loads((tiny_run / "models" / "parity.json").read_text())["reference_features"][role]
    X = read_features(tiny_run / npz).features[[read_features(tiny_run / npz).index[p] for p in paths]]
    pipeline = [classes[k] for k in heads.predict_proba(head, X).argmax(1)]

    preds = Predictor(tiny_run / "models" / f"{role}.onnx").predict_files(paths)
    assert [p.top_class for p in preds] == pipeline
    acc = np.mean([p.top_class == r["label"] for p, r in zip(preds, rows)])
    metrics = json.loads((tiny_run / f"results/heads/{variant}/seed0/metrics.json").read_text())
    assert acc == pytest.approx(metrics["test"]["acc"])
    for p in preds:
        assert sum(p.probabilities.values()) == pytest.approx(1.0)
        assert p.confidence == max(p.probabilities.values())


def test_predictor_cli_is_standalone(tiny_run, tmp_path):
    """predict.py copied alone next to the model runs without torch or the repo."""
    from synth2real import predict

    shutil.copy(predict.__file__, tmp_path / "predict.py")
    shutil.copy(tiny_run / "models" / "adapted.onnx", tmp_path / "adapted.onnx")
    rows = _test_rows(tiny_run)
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a photo")
    # Poisoned imports: any attempt to import torch or synth2real fails the run.
    (tmp_path / "sitecustomize.py").write_text(
        "import sys\nsys.modules['torch'] = None\nsys.modules['synth2real'] = None\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(tmp_path)
    proc = subprocess.run(
        [sys.executable, "predict.py", "adapted.onnx", rows[0]["path"], str(bad), rows[1]["path"]],
        check=False, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1, proc.stderr  # one bad file
    out = json.loads(proc.stdout)
    assert [o["file"] for o in out] == [rows[0]["path"], str(bad), rows[1]["path"]]
    assert "not a supported image" in out[1]["error"]
    expected = Predictor(tiny_run / "models" / "adapted.onnx").predict_files(
        [rows[0]["path"], rows[1]["path"]])
    for got, exp in zip([out[0], out[2]], expected):
        assert got["top_class"] == exp.top_class
        assert got["probabilities"] == pytest.approx(exp.probabilities, abs=1e-9)


def test_parity_check_detects_a_wrong_model(tiny_run):
    """The check is not vacuous: the adapted graph measured against the baseline head fails."""
    from synth2real.model.backbone import ort_session

    head, _ = heads.load(tiny_run / "results/heads/synthetic-20/seed0/head.pt")
    rows = _test_rows(tiny_run)[:16]
    paths = [r["path"] for r in rows]
    test = ImageSet("real_test", str(tiny_run / "results/data/real_test.csv"),
                    str(tiny_run / "results/features/plain/real_test.npz"))
    ref = {"baseline": heads.logits(head, test.lookup(paths, "plain"))}
    labels = np.zeros(len(rows), dtype=np.int64)
    wrong = ort_session(tiny_run / "models" / "study.onnx")
    res = export.parity_check(ref, {"baseline": wrong}, paths, labels, 64, 8)
    assert res["baseline"]["max_abs_logit_diff"] > 1e-2
    right = ort_session(tiny_run / "models" / "baseline.onnx")
    res = export.parity_check(ref, {"baseline": right}, paths, labels, 64, 8)
    assert res["baseline"]["max_abs_logit_diff"] <= 1e-4


def test_failed_parity_fails_export_and_removes_models(tiny_run, tiny_bundle, tmp_path,
                                                       monkeypatch):
    cfg = _cfg(tiny_run, tiny_bundle)
    real_check = export.parity_check

    def one_flip(*args, **kwargs):
        res = real_check(*args, **kwargs)
        res["adapted"]["top1_mismatches"] = 1
        return res

    monkeypatch.setattr(export, "parity_check", one_flip)
    with pytest.raises(export.ParityError, match="adapted.onnx.*top-1 mismatches 1"):
        _export(tiny_run, cfg, tiny_run / "results/deploy/models.json", tmp_path)
    assert not list(tmp_path.glob("*.onnx"))
    assert json.loads((tmp_path / "parity.json").read_text())["passed"] is False


@pytest.mark.parametrize("roles", [
    {"baseline": "align+mcc", "study": "dann", "adapted": "align+adabn+pl"},
    {"baseline": "synthetic-20", "study": "pseudo-label", "adapted": "block"},
], ids=["nets-and-adabn", "last-block"])
def test_export_reads_any_variants_checkpoint(tiny_run, tiny_bundle, tmp_path, roles):
    """Every net kind and feature kind exports and passes parity: DANN's net, a bottleneck
    net (MCC), a head on AdaBN features (the AdaBN backbone graph + the head), and a model
    with the last block trained (one graph: the backbone up to that block, the trained block
    and head; its torch reference on float32 block inputs)."""
    cfg = _cfg(tiny_run, tiny_bundle)
    deploy = json.loads((tiny_run / "results/deploy/models.json").read_text())
    for role, variant in roles.items():
        deploy["models"][role]["variant"] = variant
    (tmp_path / "deploy.json").write_text(json.dumps(deploy))
    _export(tiny_run, cfg, tmp_path / "deploy.json", tmp_path)
    report = json.loads((tmp_path / "parity.json").read_text())
    assert report["passed"]
    if roles["adapted"] == "block":
        assert report["reference_features"]["adapted"].startswith("float32 block inputs")
        # The reported accuracy reads float16 block inputs: a top-1 may flip on a tie.
        assert report["models"]["adapted"]["cache_top1_differences"] <= 1
    else:
        assert report["reference_features"]["adapted"].endswith("features/adabn/real_test.npz")
    for role, variant in roles.items():
        assert report["models"][role]["variant"] == variant
        metrics = json.loads((tiny_run / f"results/heads/{variant}/seed0/metrics.json").read_text())
        flips = report["models"][role].get("cache_top1_differences", 0)
        assert report["models"][role]["onnx_test_acc"] == pytest.approx(
            metrics["test"]["acc"], abs=flips / metrics["test"]["n"] + 1e-12)
        proto = onnx.load(str(tmp_path / f"{role}.onnx"))
        onnx.checker.check_model(proto, full_check=True)
        trained = {p.key: p.value for p in proto.metadata_props}["trained"]
        assert trained == ("last_block+head" if variant == "block" else "head"), role
        assert ("but for its last block" in proto.doc_string) == (variant == "block"), role
