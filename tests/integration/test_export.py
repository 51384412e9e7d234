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
from synth2real.model import export, features
from synth2real.model import head as heads
from synth2real.predict import Predictor, load_image, preprocess

ROLES = {"baseline": "synthetic-20", "adapted": "pseudo-label"}  # tiny_config: source_size 20


def _cfg(tiny_run: Path, tiny_bundle: Path) -> config.Study:
    raw = yaml.safe_load((tiny_run / "tiny.yaml").read_text())
    return config.load({**raw, "bundle": str(tiny_bundle)})


def _test_rows(tiny_run: Path) -> list[dict[str, str]]:
    return manifests.read_csv(tiny_run / "results" / "data" / "real_test.csv")


def test_parity_report_covers_whole_test_set(tiny_run):
    report = json.loads((tiny_run / "models" / "parity.json").read_text())
    assert report["passed"] is True
    assert report["test_images"] == len(_test_rows(tiny_run)) == 30
    assert report["parity_tol"] == 1e-4 and report["image_size"] == 64
    for role, variant in ROLES.items():
        m = report["models"][role]
        assert m["variant"] == variant
        assert 0.0 <= m["max_abs_logit_diff"] <= 1e-4
        assert m["top1_mismatches"] == 0 and m["top1_mismatch_images"] == []


@pytest.mark.parametrize("role", ROLES)
def test_onnx_contract_and_metadata(tiny_run, tiny_bundle, role):
    path = tiny_run / "models" / f"{role}.onnx"
    proto = onnx.load(str(path), load_external_data=False)
    # Self-contained: every initializer holds its data inside the file.
    assert all(t.data_location == onnx.TensorProto.DEFAULT for t in proto.graph.initializer)
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "adapted.onnx", "baseline.onnx", "parity.json"]
    assert {o.domain or "ai.onnx": o.version for o in proto.opset_import}["ai.onnx"] == 18

    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert inp.name == "image" and out.name == "logits"
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert dims == ["N", 3, 64, 64]
    assert [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim] == ["N", 3]

    meta = {p.key: p.value for p in proto.metadata_props}
    assert set(export.METADATA_KEYS) <= set(meta)
    assert json.loads(meta["class_names"]) == ["dog", "cat", "bird"]
    assert meta["input_size"] == "64" and meta["variant"] == ROLES[role] and meta["role"] == role
    assert "shorter side" in meta["resize_policy"] and "centre-crop" in meta["resize_policy"]
    assert meta["seed"] == "0"
    metrics = json.loads(
        (tiny_run / f"results/heads/{ROLES[role]}/seed0/metrics.json").read_text())
    assert float(meta["test_accuracy"]) == metrics["test"]["acc"]
    assert meta["test_images"] == "30"
    # The hash of exactly the config sections the export rule declares (its rerun trigger).
    cfg = _cfg(tiny_run, tiny_bundle)
    assert meta["config_hash"] == provenance.config_hash(
        {"variants": ROLES, "export": cfg.export, "features": cfg.features, "classes": cfg.classes,
         "name": cfg.name})
    assert meta["git_commit"] and meta["git_commit"] != "unknown"


def test_dynamic_batch(tiny_run):
    pred = Predictor(tiny_run / "models" / "adapted.onnx")
    rows = _test_rows(tiny_run)
    batch = np.stack([preprocess(load_image(r["path"]), 64) for r in rows[:7]])
    one_by_one = np.concatenate([pred.logits(batch[i : i + 1]) for i in range(7)])
    together = pred.logits(batch)
    assert together.shape == (7, 3)
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


@pytest.mark.parametrize("role", ROLES)
def test_predictor_agrees_with_pipeline_evaluation(tiny_run, role):
    """The torch-free predictor on image files == the pipeline's head on cached features."""
    rows = _test_rows(tiny_run)
    paths = [r["path"] for r in rows]
    head, classes = heads.load(tiny_run / f"results/heads/{ROLES[role]}/seed0/head.pt")
    X = features.lookup(tiny_run / "results" / "features" / "real_test.npz", paths)
    pipeline = [classes[k] for k in heads.predict_proba(head, X).argmax(1)]

    preds = Predictor(tiny_run / "models" / f"{role}.onnx").predict_files(paths)
    assert [p.top_class for p in preds] == pipeline
    acc = np.mean([p.top_class == r["label"] for p, r in zip(preds, rows)])
    metrics = json.loads(
        (tiny_run / f"results/heads/{ROLES[role]}/seed0/metrics.json").read_text())
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
    assert "not an image file" in out[1]["error"]
    expected = Predictor(tiny_run / "models" / "adapted.onnx").predict_files(
        [rows[0]["path"], rows[1]["path"]])
    for got, exp in zip([out[0], out[2]], expected):
        assert got["top_class"] == exp.top_class
        assert got["probabilities"] == pytest.approx(exp.probabilities, abs=1e-9)


def test_parity_check_detects_a_wrong_model(tiny_run, tiny_bundle):
    """The check is not vacuous: the adapted graph measured against the baseline head fails."""
    from synth2real.model.backbone import load_backbone, ort_session

    cfg = _cfg(tiny_run, tiny_bundle)
    bb = load_backbone(cfg.backbone.weights.path)
    head, _ = heads.load(tiny_run / "results/heads/synthetic-20/seed0/head.pt")
    rows = _test_rows(tiny_run)[:16]
    labels = np.zeros(len(rows), dtype=np.int64)
    wrong = ort_session(tiny_run / "models" / "adapted.onnx")
    res = export.parity_check(bb, {"baseline": head}, {"baseline": wrong},
                              [r["path"] for r in rows], labels, 64, 8)
    assert res["baseline"]["max_abs_logit_diff"] > 1e-2
    right = ort_session(tiny_run / "models" / "baseline.onnx")
    res = export.parity_check(bb, {"baseline": head}, {"baseline": right},
                              [r["path"] for r in rows], labels, 64, 8)
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
    r = tiny_run / "results"
    with pytest.raises(export.ParityError, match="adapted.onnx.*top-1 mismatches 1"):
        export.export_models(
            str(r / "backbone/backbone.json"), str(r / "data/real_test.csv"),
            [str(r / f"heads/{v}/seed0/head.pt") for v in ROLES.values()],
            [str(r / f"heads/{v}/seed0/metrics.json") for v in ROLES.values()],
            {role: str(tmp_path / f"{role}.onnx") for role in ROLES}, str(tmp_path / "parity.json"),
            variants=ROLES, export=cfg.export, features=cfg.features, classes=cfg.classes,
            name=cfg.name)
    assert not list(tmp_path.glob("*.onnx"))
    assert json.loads((tmp_path / "parity.json").read_text())["passed"] is False


def test_export_reads_any_variants_checkpoint(tiny_run, tiny_bundle, tmp_path):
    """One checkpoint format: a DANN model exports and passes parity like the study's head."""
    cfg = _cfg(tiny_run, tiny_bundle)
    r = tiny_run / "results"
    roles = {"baseline": "synthetic-20", "adapted": "dann"}
    export.export_models(
        str(r / "backbone/backbone.json"), str(r / "data/real_test.csv"),
        [str(r / f"heads/{v}/seed0/head.pt") for v in roles.values()],
        [str(r / f"heads/{v}/seed0/metrics.json") for v in roles.values()],
        {role: str(tmp_path / f"{role}.onnx") for role in roles}, str(tmp_path / "parity.json"),
        variants=roles, export=cfg.export, features=cfg.features, classes=cfg.classes, name=cfg.name)
    report = json.loads((tmp_path / "parity.json").read_text())
    assert report["passed"] and report["models"]["adapted"]["variant"] == "dann"
    metrics = json.loads((r / "heads/dann/seed0/metrics.json").read_text())
    assert report["models"]["adapted"]["onnx_test_acc"] == pytest.approx(metrics["test"]["acc"])
