"""Deployable ONNX classifiers (baseline and adapted) with a parity check on the real test set.

Each exported file is the full model a deployer needs: frozen MobileNetV2
backbone + trained head, ImageNet normalisation inside the graph.

    input  `image`   float32 [N, 3, S, S], RGB in [0, 1] (see `predict.preprocess`)
    output `logits`  float32 [N, C], classes in `class_names` order

`metadata_props` carry everything needed to use the file without this repo
(`METADATA_KEYS`). Parity is part of the export: onnxruntime and PyTorch must
agree on every real test image (max |Δlogit| <= export.parity_tol, identical
top-1), otherwise no model is published.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from synth2real import provenance
from synth2real.config import Export, Features
from synth2real.data import manifests
from synth2real.errors import Synth2RealError
from synth2real.model import head
from synth2real.model.backbone import Backbone, Classifier, export_onnx, load_backbone, ort_session
from synth2real.model.features import batches
from synth2real.predict import RESIZE_POLICY
from synth2real.store import read_json, write_json

log = logging.getLogger(__name__)

INPUT_NAME = "image"
OUTPUT_NAME = "logits"
# What every exported file carries in `metadata_props` (all values are strings).
METADATA_KEYS = (
    "class_names", "input_size", "input_format", "resize_policy", "variant", "role", "seed",
    "test_accuracy", "test_images", "git_commit", "config_hash", "study", "backbone_sha256",
)
INPUT_FORMAT = (
    "input 'image': float32 [N, 3, S, S], RGB scaled to [0, 1], S = input_size; "
    "ImageNet mean/std normalisation is inside the graph. output 'logits': float32 [N, C], "
    "C = len(class_names), in class_names order (softmax for probabilities)"
)


class ParityError(Synth2RealError):
    """onnxruntime and PyTorch disagree beyond export.parity_tol: the export is not published."""


@dataclass(frozen=True)
class ExportSource:
    """One model to export: its trained head and the metrics of that head on this run."""

    role: str  # "baseline" or "adapted"
    variant: str  # e.g. "synthetic-1000", "pseudo-label"
    head_pt: str
    metrics_json: str
    out_onnx: str


def metadata(src: ExportSource, classes: Sequence[str], image_size: int, seed: int,
             backbone_sha256: str, commit: str, config_hash: str, study: str) -> dict[str, str]:
    """`metadata_props` of one exported file (see `METADATA_KEYS`)."""
    test = read_json(src.metrics_json)["test"]
    return {
        "class_names": json.dumps(list(classes)),
        "input_size": str(image_size),
        "input_format": INPUT_FORMAT,
        "resize_policy": RESIZE_POLICY,
        "variant": src.variant,
        "role": src.role,
        "seed": str(seed),
        "test_accuracy": repr(float(test["acc"])),
        "test_images": str(int(test["n"])),
        "git_commit": commit,
        "config_hash": config_hash,
        "study": study,
        "backbone_sha256": backbone_sha256,
    }


def parity_check(backbone: Backbone, heads: dict[str, nn.Module], sessions: dict, paths: Sequence[str],
                 labels: np.ndarray, size: int, batch_size: int) -> dict[str, dict[str, object]]:
    """Torch vs onnxruntime logits of every model on every image in `paths`.

    The torch reference of model r is `heads[r](backbone(x))` -- exactly
    `Classifier.forward` -- with the backbone run once per batch for all models.
    Returns, per role: max |Δlogit|, top-1 mismatches, ONNX accuracy on `labels`.
    """
    diff = {r: 0.0 for r in heads}
    mismatches: dict[str, list[int]] = {r: [] for r in heads}
    correct = {r: 0 for r in heads}
    worst_image = {r: "" for r in heads}
    done = 0
    # The feature cache's loader + preprocessing: parity covers the real input path.
    for batch in batches(paths, size, batch_size):
        with torch.inference_mode():
            feats = backbone(torch.from_numpy(batch))  # [B, 1280]
            ref = {r: h(feats).numpy() for r, h in heads.items()}  # [B, C]
        for r, sess in sessions.items():
            got = sess.run(None, {INPUT_NAME: batch})[0]
            d = np.abs(got.astype(np.float64) - ref[r].astype(np.float64)).max(axis=1)
            d[~np.isfinite(d)] = np.inf  # a NaN must fail the check, not compare as "not larger"
            if d.max() > diff[r]:
                diff[r] = float(d.max())
                worst_image[r] = paths[done + int(d.argmax())]
            top_onnx, top_torch = got.argmax(1), ref[r].argmax(1)
            mismatches[r] += [done + int(i) for i in np.flatnonzero(top_onnx != top_torch)]
            correct[r] += int((top_onnx == labels[done : done + len(batch)]).sum())
        done += len(batch)
        log.info("parity %d/%d images", done, len(paths))
    return {
        r: {"max_abs_logit_diff": diff[r], "worst_image": worst_image[r],
            "top1_mismatches": len(mismatches[r]),
            "top1_mismatch_images": [paths[i] for i in mismatches[r][:20]],
            "onnx_test_acc": correct[r] / max(len(paths), 1)}
        for r in heads
    }


def export_models(backbone_json: str, test_csv: str, checkpoints: Sequence[str],
                  metrics: Sequence[str], onnx_files: Mapping[str, str], out_report: str, *,
                  variants: dict[str, str], export: Export, features: Features, classes: list[str],
                  name: str) -> None:
    """Stage: export each role's model (`variants`: role -> variant; `checkpoints`, `metrics`
    and `onnx_files` in the same order) to ONNX, check parity on the whole real test set, report."""
    sources = [ExportSource(role, variant, ckpt, m, onnx_files[role])
               for (role, variant), ckpt, m in zip(variants.items(), checkpoints, metrics, strict=True)]
    config = {"variants": variants, "export": export, "features": features, "classes": classes,
              "name": name}
    config_hash = provenance.config_hash(config)
    info = read_json(backbone_json)
    backbone = load_backbone(info["path"])
    size = int(info["image_size"])
    commit = provenance.git_commit()
    heads: dict[str, nn.Module] = {}
    sessions = {}
    for src in sources:
        model, model_classes = head.load(src.head_pt)
        if model_classes != list(classes):
            raise Synth2RealError(
                f"{src.head_pt}: model classes {model_classes} differ from config classes {classes}; "
                "retrain it (snakemake --forcerun <its training rule>)"
            )
        heads[src.role] = model
        export_onnx(Classifier(backbone, model), src.out_onnx, size, OUTPUT_NAME, opset=export.opset,
                    metadata=metadata(src, classes, size, export.seed, info.get("sha256", ""), commit,
                                      config_hash, name))
        sessions[src.role] = ort_session(src.out_onnx, threads=torch.get_num_threads())
        log.info("exported %s (%s) -> %s", src.role, src.variant, src.out_onnx)

    rows = manifests.read_csv(test_csv)
    index = {c: i for i, c in enumerate(classes)}
    labels = np.array([index[r["label"]] for r in rows], dtype=np.int64)
    paths = [r["path"] for r in rows]
    checks = parity_check(backbone, heads, sessions, paths, labels, size, features.batch_size)
    tol = export.parity_tol
    report = {
        "parity_tol": tol, "test_images": len(paths), "test_manifest": test_csv,
        "image_size": size, "opset": export.opset, "seed": export.seed,
        "git_commit": commit, "config_hash": config_hash,
        # Where the torch side came from, so `make bench` can rebuild the eager model.
        "backbone_weights": info["path"],
        "models": {
            src.role: {"onnx": src.out_onnx, "variant": src.variant, "head": src.head_pt,
                       "test_acc": read_json(src.metrics_json)["test"]["acc"], **checks[src.role]}
            for src in sources
        },
    }
    report["passed"] = all(m["max_abs_logit_diff"] <= tol and m["top1_mismatches"] == 0
                           for m in report["models"].values())
    write_json(report, out_report)
    for src in sources:
        m = report["models"][src.role]
        log.info("%s parity: max |dlogit| %.3g, top-1 mismatches %d/%d", src.role,
                 m["max_abs_logit_diff"], m["top1_mismatches"], len(paths))
    if not report["passed"]:
        bad = [f"{src.out_onnx}: max |dlogit| {report['models'][src.role]['max_abs_logit_diff']:.3g}"
               f" (worst {report['models'][src.role]['worst_image']}), top-1 mismatches "
               f"{report['models'][src.role]['top1_mismatches']}" for src in sources]
        for src in sources:  # never leave a model that failed its check where a deployer looks
            Path(src.out_onnx).unlink(missing_ok=True)
        raise ParityError(
            f"ONNX export parity failed (export.parity_tol={tol}, details in {out_report}):\n  "
            + "\n  ".join(bad)
            + "\nCheck the onnxruntime/torch versions, or try another export.opset."
        )
