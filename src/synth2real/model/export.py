"""Deployable ONNX classifiers (baseline, study, adapted) with a parity check on the real test set.

Each exported file is the full model a deployer needs: frozen MobileNetV2
backbone + trained head, ImageNet normalisation inside the graph.

    input  `image`   float32 [N, 3, S, S], RGB in [0, 1] (see `predict.preprocess`)
    output `logits`  float32 [N, C], classes in `class_names` order

Which variant plays which role, and each one's accuracy with its interval, come
from the deploy file written before export (`synth2real.report.model_card.
deploy_selection`); this stage only reads it. A head on the plain features is
exported as `Classifier(backbone, head)` (any net kind of `model.head`); a model
that trained the last block (`head.BlockNet`) as `BlockClassifier`: the frozen
backbone up to that block, then the trained block and head, one graph; a head
on AdaBN features is the stored AdaBN backbone graph composed with the head's
graph, since those BatchNorm statistics exist only in that graph.

`metadata_props` carry everything needed to use the file without this repo
(`METADATA_KEYS`); `doc_string` says the same in a paragraph, `model_version`
is a hash of the graph (`backbone.graph_version`), and every file passes the
full ONNX checker.

Parity is part of the export: onnxruntime, run on every real test *image*, must
agree with the PyTorch head run on the *cached* backbone features of the same
images (max |Δlogit| <= export.parity_tol, identical top-1), otherwise no model
is published. The math is the same -- the cache holds exactly the backbone's
output for these images under the one preprocessing, parity-checked against
torch when it was extracted -- so the torch side needs no backbone pass. It
is also the model the reported accuracies were computed with. A block model's
cache holds its block inputs in float16 and its block was scored in bfloat16, so
its torch reference is the float32 model on float32 block inputs instead, from
the backbone graph that computed the cache (`backbone_onnx`); how many top-1
predictions differ from the scored ones (the reported accuracy's) is reported
beside it (`cache_top1_differences`).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from synth2real import provenance
from synth2real.config import Export, Features
from synth2real.data import manifests
from synth2real.data.imagesets import ImageSet, class_indices, read_features
from synth2real.errors import Synth2RealError
from synth2real.model import head
from synth2real.model.backbone import (
    BlockClassifier,
    Classifier,
    export_onnx,
    finish_onnx,
    load_backbone,
    ort_session,
)
from synth2real.model.features import batches
from synth2real.predict import RESIZE_POLICY
from synth2real.store import read_json, write_json

log = logging.getLogger(__name__)

INPUT_NAME = "image"
OUTPUT_NAME = "logits"
FEATURES_NAME = "features"  # the backbone graphs' output, the head graph's input
# What every exported file carries in `metadata_props` (all values are strings).
METADATA_KEYS = (
    "class_names", "input_size", "input_format", "resize_policy", "variant", "role", "seed",
    "selection_criterion", "test_accuracy", "test_accuracy_ci", "test_images", "target_domain",
    "git_commit", "config_hash", "study", "backbone_sha256", "trained",
)
# `trained`: what of the network the variant trained (the rest is ImageNet's, frozen).
TRAINED = {"head": "head", "block": "last_block+head"}
INPUT_FORMAT = (
    "input 'image': float32 [N, 3, S, S], RGB scaled to [0, 1], S = input_size; "
    "ImageNet mean/std normalisation is inside the graph. output 'logits': float32 [N, C], "
    "C = len(class_names), in class_names order (softmax for probabilities)"
)


class ParityError(Synth2RealError):
    """onnxruntime and PyTorch disagree beyond export.parity_tol: the export is not published."""


def metadata(role: str, entry: Mapping, deploy: Mapping, image_size: int, backbone_sha256: str,
             commit: str, config_hash: str, study: str, trained: str = "head") -> dict[str, str]:
    """`metadata_props` of one exported file (see `METADATA_KEYS`); `entry` is the role's
    record in the deploy file, `deploy` the whole file, `trained` a value of `TRAINED`."""
    return {
        "class_names": json.dumps(list(deploy["classes"])),
        "input_size": str(image_size),
        "input_format": INPUT_FORMAT,
        "resize_policy": RESIZE_POLICY,
        "variant": entry["variant"],
        "role": role,
        "seed": str(entry["seed"]),
        "selection_criterion": entry["selection_criterion"],
        "test_accuracy": repr(float(entry["test_accuracy"])),
        "test_accuracy_ci": json.dumps([float(x) for x in entry["test_accuracy_ci"]]),
        "test_images": str(int(entry["test_images"])),
        "target_domain": deploy["target_domain"],
        "git_commit": commit,
        "config_hash": config_hash,
        "study": study,
        "backbone_sha256": backbone_sha256,
        "trained": trained,
    }


def doc_string(meta: Mapping[str, str]) -> str:
    """The ONNX `doc_string`: one paragraph on what the file is, its contract and its domain."""
    lo, hi = json.loads(meta["test_accuracy_ci"])
    classes = ", ".join(json.loads(meta["class_names"]))
    frozen = "" if meta.get("trained", "head") == "head" else " but for its last block, trained too"
    return (
        f"synth2real {meta['role']} model of study '{meta['study']}': MobileNetV2 (ImageNet "
        f"weights, frozen{frozen}) with the head of variant '{meta['variant']}' (seed {meta['seed']}, "
        f"chosen as: {meta['selection_criterion']}), classifying photos as one of: {classes}. "
        f"Input 'image' float32 [N, 3, {meta['input_size']}, {meta['input_size']}], RGB in "
        f"[0, 1] after resizing the shorter side and centre-cropping; normalisation is inside "
        f"the graph. Output 'logits' float32 [N, C] in class_names order. Target domain: "
        f"{meta['target_domain']} Real-test accuracy {float(meta['test_accuracy']):.4f} (95% "
        f"bootstrap interval over test images [{lo:.4f}, {hi:.4f}], {meta['test_images']} "
        f"images). Photos unlike the target domain, or of none of these classes, still get one "
        f"of these classes."
    )


def head_graph(model: nn.Module, in_dim: int, opset: int):
    """The head alone as an ONNX model: `features` [N, in_dim] -> `logits` [N, C]."""
    import onnx

    buf = io.BytesIO()
    torch.onnx.export(model.eval(), (torch.zeros(2, in_dim),), buf, input_names=[FEATURES_NAME],
                      output_names=[OUTPUT_NAME], opset_version=opset, dynamo=False,
                      dynamic_axes={FEATURES_NAME: {0: "N"}, OUTPUT_NAME: {0: "N"}})
    return onnx.load_from_string(buf.getvalue())


def compose(backbone_onnx: str | Path, model: nn.Module, path: str | Path, opset: int,
            meta: dict[str, str], doc: str) -> Path:
    """`image` -> stored backbone graph (`features`) -> head graph -> `logits`, as one file."""
    import onnx
    from onnx import compose as onnx_compose

    trunk = onnx.load(str(backbone_onnx))
    dim = trunk.graph.output[0].type.tensor_type.shape.dim[1].dim_value
    # Prefix the head's internal names so its weights cannot collide with the trunk's.
    top = onnx_compose.add_prefix(head_graph(model, dim, opset), "head/", rename_inputs=False,
                                  rename_outputs=False)
    merged = onnx_compose.merge_models(trunk, top, io_map=[(FEATURES_NAME, FEATURES_NAME)])
    return finish_onnx(merged, path, meta, doc)


def deployable(backbone: nn.Module, model: nn.Module) -> nn.Module:
    """The full torch model of a trained net: image -> logits, in float32 throughout (a
    block model's block included, which training and scoring ran in bfloat16)."""
    if isinstance(model, head.BlockNet):
        model.block.bfloat16 = False
        return BlockClassifier(backbone, model).eval()
    return Classifier(backbone, model).eval()


def block_reference(model: nn.Module, trunk, paths: Sequence[str], size: int,
                    batch_size: int) -> np.ndarray:
    """A block model's torch logits [len(paths), C] on float32 block inputs of `paths`, from
    the backbone graph `trunk` (an onnxruntime session with output block_input)."""
    out = []
    for batch in batches(paths, size, batch_size):
        blocks = trunk.run(["block_input"], {INPUT_NAME: batch})[0]
        out.append(head.logits(model, blocks))
    return np.concatenate(out)


def parity_check(reference: Mapping[str, np.ndarray], sessions: Mapping, paths: Sequence[str],
                 labels: np.ndarray, size: int, batch_size: int) -> dict[str, dict[str, object]]:
    """onnxruntime logits of every model on every image in `paths` vs `reference` logits.

    `reference[r]` is [len(paths), C]: model r's PyTorch net on the cached backbone
    features of `paths` (block models: on float32 block inputs), in order. Returns, per
    role: max |Δlogit| (and the image where it is largest), top-1 mismatches, ONNX accuracy
    on `labels`.
    """
    diff = {r: 0.0 for r in sessions}
    mismatches: dict[str, list[int]] = {r: [] for r in sessions}
    correct = {r: 0 for r in sessions}
    worst_image = {r: "" for r in sessions}
    done = 0
    # The feature cache's loader + preprocessing: parity covers the real input path.
    for batch in batches(paths, size, batch_size):
        for r, sess in sessions.items():
            got = sess.run(None, {INPUT_NAME: batch})[0]
            ref = reference[r][done : done + len(batch)]
            d = np.abs(got.astype(np.float64) - ref.astype(np.float64)).max(axis=1)
            d[~np.isfinite(d)] = np.inf  # a NaN must fail the check, not compare as "not larger"
            if d.max() > diff[r]:
                diff[r] = float(d.max())
                worst_image[r] = paths[done + int(d.argmax())]
            top_onnx, top_torch = got.argmax(1), ref.argmax(1)
            mismatches[r] += [done + int(i) for i in np.flatnonzero(top_onnx != top_torch)]
            correct[r] += int((top_onnx == labels[done : done + len(batch)]).sum())
        done += len(batch)
        log.info("parity %d/%d images", done, len(paths))
    return {
        r: {"max_abs_logit_diff": diff[r], "worst_image": worst_image[r],
            "top1_mismatches": len(mismatches[r]),
            "top1_mismatch_images": [paths[i] for i in mismatches[r][:20]],
            "onnx_test_acc": correct[r] / max(len(paths), 1)}
        for r in sessions
    }


def export_models(backbone: str, real_test: str, deploy: str, heads: list[str],
                  test_features: list[str], baseline: str, study: str, adapted: str, parity: str,
                  *, candidates: list[str], feature_kinds: dict[str, str], export: Export,
                  features: Features, classes: list[str], name: str,
                  adabn_backbone: str | None = None, backbone_onnx: str | None = None) -> None:
    """Stage: export each role of the deploy file (`deploy`) to its ONNX file (`baseline`,
    `study`, `adapted`), check parity on the real test set (manifest `real_test`), report
    (`parity`).

    `heads`: the checkpoint of every variant of `candidates` (the roles pick among them);
    `feature_kinds`: variant -> the feature kind of its target images ("plain", "adabn",
    "block"); `test_features`: the real test set's feature cache of each of those kinds
    (each cache records its kind); `adabn_backbone`: the AdaBN backbone graph, when a
    candidate uses it (the plain backbone is rebuilt in torch from its weights);
    `backbone_onnx`: the plain backbone graph, for a block model's reference.
    """
    onnx_files = {"baseline": baseline, "study": study, "adapted": adapted}
    head_of = dict(zip(candidates, heads, strict=True))
    npz_of = {read_features(f).kind: f for f in test_features}
    graph_of = {"adabn": adabn_backbone}
    plan = read_json(deploy)
    if list(plan["classes"]) != list(classes):
        raise Synth2RealError(f"{deploy}: classes {plan['classes']} differ from the config's "
                              f"{classes}; rerun its rule (snakemake --forcerun deploy_selection)")
    roles = {role: plan["models"][role] for role in onnx_files}
    config = {"roles": {r: e["variant"] for r, e in roles.items()}, "export": export,
              "features": features, "classes": classes, "name": name}
    config_hash = provenance.config_hash(config)
    info = read_json(backbone)
    size = int(info["image_size"])
    commit = provenance.git_commit()
    rows = manifests.read_csv(real_test)
    paths = [r["path"] for r in rows]
    labels = class_indices([r["label"] for r in rows], classes, real_test)
    torch_backbone = None
    reference: dict[str, np.ndarray] = {}
    sessions = {}
    cached: dict[str, np.ndarray] = {}
    cache_agreement: dict[str, int] = {}
    for role, entry in roles.items():
        variant, out = entry["variant"], onnx_files[role]
        model, model_classes = head.load(head_of[variant])
        if model_classes != list(classes):
            raise Synth2RealError(
                f"{head_of[variant]}: model classes {model_classes} differ from config classes "
                f"{classes}; retrain it (snakemake --forcerun <its training rule>)")
        kind = feature_kinds[variant]
        if kind not in cached:
            cached[kind] = ImageSet("real_test", real_test, npz_of[kind]).lookup(paths, kind)
        reference[role] = head.logits(model, cached[kind])
        if kind == "block":  # float16 inputs in the cache, a bfloat16 block in scoring: the
            # reference is the float32 model on float32 block inputs
            if backbone_onnx is None:
                raise Synth2RealError("a block model is deployed: the rule must name input "
                                      "backbone_onnx (the plain backbone graph)")
            on_cache = reference[role].argmax(1)
            model.block.bfloat16 = False
            reference[role] = block_reference(model, ort_session(backbone_onnx), paths, size,
                                              features.batch_size)
            cache_agreement[role] = int((reference[role].argmax(1) != on_cache).sum())
        meta = metadata(role, entry, plan, size, info.get("sha256", ""), commit, config_hash, name,
                        TRAINED.get(kind, "head"))
        if kind in ("plain", "block"):
            if torch_backbone is None:
                torch_backbone = load_backbone(info["path"])
            export_onnx(deployable(torch_backbone, model), out, size, OUTPUT_NAME,
                        opset=export.opset, metadata=meta, doc_string=doc_string(meta))
        else:
            compose(graph_of[kind], model, out, export.opset, meta, doc_string(meta))
        sessions[role] = ort_session(out, threads=torch.get_num_threads())
        log.info("exported %s (%s, %s features) -> %s", role, variant, kind, out)

    checks = parity_check(reference, sessions, paths, labels, size, features.batch_size)
    tol = export.parity_tol
    report = {
        "parity_tol": tol, "test_images": len(paths), "test_manifest": real_test,
        "image_size": size, "opset": export.opset, "seed": export.seed,
        "git_commit": commit, "config_hash": config_hash,
        # The torch side: each head on these cached features (no backbone pass).
        "reference": "torch head on cached backbone features",
        "reference_features": {r: npz_of[feature_kinds[e["variant"]]] if feature_kinds[
            e["variant"]] != "block" else f"float32 block inputs from {backbone_onnx}"
                               for r, e in roles.items()},
        # Where the torch backbone came from, so `make bench` can rebuild the eager model.
        "backbone_weights": info["path"],
        "models": {
            role: {"onnx": onnx_files[role], "variant": e["variant"], "head": head_of[e["variant"]],
                   "test_acc": e["test_accuracy"], **checks[role],
                   # Block models: top-1 predictions that differ from the float16 cache's.
                   **({"cache_top1_differences": cache_agreement[role]}
                      if role in cache_agreement else {})}
            for role, e in roles.items()
        },
    }
    report["passed"] = all(m["max_abs_logit_diff"] <= tol and m["top1_mismatches"] == 0
                           for m in report["models"].values())
    write_json(report, parity)
    for role, m in report["models"].items():
        log.info("%s parity: max |dlogit| %.3g, top-1 mismatches %d/%d", role,
                 m["max_abs_logit_diff"], m["top1_mismatches"], len(paths))
    if not report["passed"]:
        bad = [f"{m['onnx']}: max |dlogit| {m['max_abs_logit_diff']:.3g} (worst {m['worst_image']}),"
               f" top-1 mismatches {m['top1_mismatches']}" for m in report["models"].values()]
        for out in onnx_files.values():  # never leave a model that failed its check where a deployer looks
            Path(out).unlink(missing_ok=True)
        raise ParityError(
            f"ONNX export parity failed (export.parity_tol={tol}, details in {parity}):\n  "
            + "\n  ".join(bad)
            + "\nCheck the onnxruntime/torch versions, or try another export.opset.")
