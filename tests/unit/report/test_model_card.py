"""The deployed models' roles, numbers and card, on a tiny hand-made run (known answers)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synth2real.config import Backbone, Evaluation, Export, RealData, SyntheticData
from synth2real.errors import DataError
from synth2real.report import model_card as mc

CLASSES = ["dog", "cat", "bird"]
N = 60  # test images: 20 per class


def _run(tmp_path: Path, preds: dict[str, list[int]], pick: str = "balanced",
         evaluation: Evaluation | None = None, criterion: str = "target_val_acc",
         **summary_extra: object) -> dict:
    """A fake run: test photos (32x24 px), summary selection, export-seed metrics -> deploy file."""
    rows = ["path,label"]
    y = [i % 3 for i in range(N)]
    for i, k in enumerate(y):
        p = tmp_path / "photos" / f"{i}.png"
        p.parent.mkdir(exist_ok=True)
        Image.new("RGB", (32, 24)).save(p)
        rows.append(f"{p},{CLASSES[k]}")
    (tmp_path / "test.csv").write_text("\n".join(rows) + "\n")
    # The test-best variant is another one: the deployed pick is the criterion's, never it.
    summary = {"study": "toy", "model_selection": {
        "deploy_criterion": criterion, "test_best": {"variant": "dann", "test_acc": 0.99},
        "criteria": {criterion: {"variant": pick, "description": f"the criterion {criterion}"}}},
        **summary_extra}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    metrics = []
    for v, pred in preds.items():
        f = tmp_path / f"{v}.json"
        f.write_text(json.dumps({"seed": 0, "labels": "synthetic", "real_labels": 0,
                                 "test": {"pred": pred}}))
        metrics.append(str(f))
    # 4 target-validation photos (what target_val_acc reads) beside 5 of the oracle split.
    (tmp_path / "target.csv").write_text("path,label,split\n" + "".join(
        f"l{i}.png,dog,{'val' if i < 4 else 'oracle'}\n" for i in range(9)))
    out = tmp_path / "deploy.json"
    mc.deploy_selection(str(tmp_path / "summary.json"), str(tmp_path / "test.csv"),
                        str(tmp_path / "target.csv"), metrics,
                        str(out), candidates=list(preds), baseline="synthetic-1000",
                        classes=CLASSES, real=RealData(source={"kind": "folder",
                                                               "root": "/data/photos-x"}),
                        evaluation=evaluation or Evaluation(), export=Export())
    return json.loads(out.read_text())


def _pred(correct: np.ndarray) -> list[int]:
    """Predictions right exactly where `correct` (labels cycle 0, 1, 2)."""
    y = np.arange(N) % 3
    return [int(k if ok else (k + 1) % 3) for k, ok in zip(y, correct)]


def test_roles_accuracies_and_a_clear_gain(tmp_path):
    base = np.arange(N) < 30  # 50 %
    d = _run(tmp_path, {"synthetic-1000": _pred(base), "pseudo-label": _pred(np.arange(N) < 33),
                        "balanced": _pred(np.ones(N, bool)), "dann": _pred(np.zeros(N, bool))})
    m = d["models"]
    assert {r: e["variant"] for r, e in m.items()} == {
        "baseline": "synthetic-1000", "study": "pseudo-label", "adapted": "balanced"}
    assert m["adapted"]["selection_criterion"] == "target_val_acc"
    assert m["study"]["selection_criterion"] == "published method"
    assert m["baseline"]["selection_criterion"] == "source-only"
    assert m["baseline"]["test_accuracy"] == 0.5 and m["study"]["test_accuracy"] == 33 / N
    for e in m.values():
        lo, hi = e["test_accuracy_ci"]
        assert lo <= e["test_accuracy"] <= hi and e["test_images"] == N and e["seed"] == 0
    assert m["baseline"]["test_accuracy_ci"][1] - m["baseline"]["test_accuracy_ci"][0] > 0.1
    assert d["differences"]["adapted"]["vs"] == "baseline"
    assert d["differences"]["adapted"]["diff"] == pytest.approx(0.5)
    assert d["adaptation_helps"] is True
    assert "'photos-x'" in d["target_domain"] and "24 px" in d["target_domain"]
    # Label-free models all; the adapted one was chosen on the 4 target-validation photos.
    assert {r: (e["real_labels"], e["selection_real_labels"]) for r, e in m.items()} == {
        "baseline": (0, 0), "study": (0, 0), "adapted": (0, 4)}


def test_a_criterion_without_labels_chooses_on_no_real_photo(tmp_path):
    ones = _pred(np.ones(N, bool))
    d = _run(tmp_path, {"synthetic-1000": ones, "pseudo-label": ones, "im": ones}, pick="im",
             evaluation=Evaluation(deploy_criterion="snd"), criterion="snd")
    assert d["models"]["adapted"]["selection_real_labels"] == 0


def test_a_deployed_model_without_a_label_count_is_named(tmp_path):
    """Metrics that predate the count pass for a model on synthetic labels (0), never for one
    whose labels are real."""
    ones = _pred(np.ones(N, bool))
    d = _run(tmp_path, {"synthetic-1000": ones, "pseudo-label": ones, "balanced": ones})
    assert d["models"]["baseline"]["real_labels"] == 0
    m = json.loads((tmp_path / "balanced.json").read_text())
    m.pop("real_labels")
    (tmp_path / "balanced.json").write_text(json.dumps({**m, "labels": "target"}))
    summary, test = tmp_path / "summary.json", tmp_path / "test.csv"
    with pytest.raises(DataError, match=r"balanced.json: no key real_labels"):
        mc.deploy_selection(str(summary), str(test), str(tmp_path / "target.csv"),
                            [str(tmp_path / f"{v}.json") for v in ("synthetic-1000", "pseudo-label",
                                                                   "balanced")],
                            str(tmp_path / "d.json"), candidates=["synthetic-1000", "pseudo-label",
                                                                  "balanced"],
                            baseline="synthetic-1000", classes=CLASSES,
                            real=RealData(source={"kind": "folder", "root": "/x"}),
                            evaluation=Evaluation(), export=Export())


def test_equal_accuracy_different_errors_is_not_a_gain(tmp_path):
    first, last = np.arange(N) < 30, np.arange(N) >= 30  # both 50 %, disjoint errors
    d = _run(tmp_path, {"synthetic-1000": _pred(first), "pseudo-label": _pred(first),
                        "im": _pred(last)}, pick="im")
    lo, hi = d["differences"]["adapted"]["ci"]
    assert d["models"]["adapted"]["variant"] == "im" and lo < 0 < hi
    assert d["differences"]["adapted"]["diff"] == 0 and d["adaptation_helps"] is False
    assert d["differences"]["study"]["ci"] == [0.0, 0.0]  # the same model as the baseline


def test_a_pick_outside_the_candidates_is_an_error(tmp_path):
    ones = _pred(np.ones(N, bool))
    with pytest.raises(DataError, match="'gone' is not among the export candidates"):
        _run(tmp_path, {"synthetic-1000": ones, "pseudo-label": ones}, pick="gone")
    with pytest.raises(DataError, match="deploy criterion 'target_val_acc', the config says 'snd'"):
        _run(tmp_path, {"synthetic-1000": ones, "pseudo-label": ones},
             evaluation=Evaluation(deploy_criterion="snd"))


def test_card_and_readme(tmp_path):
    _run(tmp_path, {"synthetic-1000": _pred(np.arange(N) < 30),
                    "pseudo-label": _pred(np.arange(N) < 31), "balanced": _pred(np.arange(N) < 29)})
    parity = {"passed": True, "image_size": 64, "git_commit": "abc",
              "models": {r: {"max_abs_logit_diff": 1e-6} for r in mc.ROLES}}
    (tmp_path / "parity.json").write_text(json.dumps(parity))
    onnx = [str(tmp_path / f"{r}.onnx") for r in mc.ROLES]
    out_card, out_md = tmp_path / "m" / "card.json", tmp_path / "m" / "README.md"
    mc.model_card(str(tmp_path / "deploy.json"), str(tmp_path / "parity.json"), onnx, str(out_card),
                  str(out_md), synthetic=SyntheticData(source={"kind": "diffusers"}),
                  backbone=Backbone(weights={"kind": "torchvision"}))
    card = json.loads(out_card.read_text())
    assert {"classes", "target_domain", "image_size", "deploy_criterion", "models", "differences",
            "adaptation_helps"} <= set(card)
    assert card["classes"] == CLASSES and card["image_size"] == 64
    assert {r: e["onnx"] for r, e in card["models"].items()} == {
        r: f"{r}.onnx" for r in mc.ROLES}
    assert card["adaptation_helps"] is False
    text = out_md.read_text()
    for role, e in card["models"].items():
        row = next(line for line in text.splitlines() if line.startswith(f"| {role} |"))
        assert f"{100 * e['test_accuracy']:.2f}%" in row and e["variant"] in row
    assert "NOT shown to be better" in text
    assert all(line.count("| 0 / 4 |" if role == "adapted" else "| 0 / 0 |") == 1
               for role in mc.ROLES
               for line in text.splitlines() if line.startswith(f"| {role} |"))
    assert "None of the three was trained on a labeled real photo (0 real labels each)" in text
    assert "read the labels of 4 labeled real target-validation photos" in text
    assert "CreativeML OpenRAIL-M" in text and "BSD-3-Clause" in text and "Tiny-ImageNet" in text
    parity["passed"] = False
    (tmp_path / "parity.json").write_text(json.dumps(parity))
    with pytest.raises(DataError, match="did not pass its parity check"):
        mc.model_card(str(tmp_path / "deploy.json"), str(tmp_path / "parity.json"), onnx,
                      str(out_card), str(out_md), synthetic=SyntheticData(source={"kind": "diffusers"}),
                      backbone=Backbone(weights={"kind": "torchvision"}))


def test_the_adapted_models_gap_closure_and_its_claim_reach_the_card(tmp_path):
    ones = _pred(np.ones(N, bool))
    claim = {"id": "deployed-choice", "text": "the adapted model picked by ensv closes at least "
             "70% of the source-only to oracle gap", "verdict": "inconclusive"}
    d = _run(tmp_path, {"synthetic-1000": ones, "pseudo-label": ones, "ens": ones}, pick="ens",
             evaluation=Evaluation(deploy_criterion="ensv"), criterion="ensv",
             seeds=[0, 1, 2], claims=[claim],
             gap_closure={"ens": {"mean": 0.62, "ci95": [0.5, 0.74]},
                          "pseudo-label": {"mean": 0.1, "ci95": [0.0, 0.2]}})
    assert d["models"]["adapted"]["gap_closure"] == {"mean": 0.62, "ci95": [0.5, 0.74],
                                                     "seeds": 3}
    assert d["deployed_claim"] == {"text": claim["text"], "verdict": "inconclusive",
                                   "share": 0.7}
    card = {**d, "git_commit": "c", "image_size": 16,
            "models": {r: {**e, "onnx": f"{r}.onnx"} for r, e in d["models"].items()}}
    text = mc.gap_sentence(card)
    assert "closes 62.00% [50.00, 74.00] of the gap" in text and "**inconclusive**" in text
