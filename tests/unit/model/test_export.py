"""ONNX export pieces on toy nets: metadata, doc string, model version, full check, composition."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from synth2real.model import export
from synth2real.model.backbone import export_onnx, graph_version, ort_session
from synth2real.model.head import BottleneckNet, DannNet, Ensemble, Head

DEPLOY = {"classes": ["dog", "cat", "bird"], "target_domain": "Real photos from somewhere.",
          "models": {"adapted": {"variant": "balanced", "seed": 0,
                                 "selection_criterion": "target_val_acc", "test_accuracy": 0.655,
                                 "test_accuracy_ci": [0.638, 0.672], "test_images": 3000}}}


class ToyBackbone(nn.Module):
    """[N, 3, S, S] -> [N, 8]: a stand-in for MobileNetV2 with the same interface."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x).mean(dim=(2, 3))


def _meta() -> dict[str, str]:
    return export.metadata("adapted", DEPLOY["models"]["adapted"], DEPLOY, 16, "sha", "commit",
                           "hash", "toy")


def test_metadata_carries_every_key_as_a_string():
    meta = _meta()
    assert tuple(meta) == export.METADATA_KEYS and all(isinstance(v, str) for v in meta.values())
    assert json.loads(meta["test_accuracy_ci"]) == [0.638, 0.672]
    assert meta["selection_criterion"] == "target_val_acc" and meta["variant"] == "balanced"
    assert meta["target_domain"] == DEPLOY["target_domain"]
    doc = export.doc_string(meta)
    assert "balanced" in doc and "[0.6380, 0.6720]" in doc and DEPLOY["target_domain"] in doc
    assert meta["trained"] == "head" and "frozen)" in doc
    block = export.doc_string({**meta, "trained": export.TRAINED["block"]})
    assert "frozen but for its last block, trained too)" in block


def test_exported_file_passes_the_full_checker_with_doc_and_version(tmp_path):
    path = tmp_path / "m.onnx"
    meta = _meta()
    export_onnx(nn.Sequential(ToyBackbone(), Head(3, in_dim=8)).eval(), path, 16, "logits",
                opset=18, metadata=meta, doc_string=export.doc_string(meta))
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.doc_string == export.doc_string(meta)
    assert proto.model_version == graph_version(proto) > 0
    assert {p.key: p.value for p in proto.metadata_props} == meta
    # The version follows the weights, not the metadata: same nets (same seed) -> same version.
    same, other = tmp_path / "same.onnx", tmp_path / "other.onnx"
    export_onnx(nn.Sequential(ToyBackbone(), Head(3, in_dim=8)).eval(), same, 16, "logits")
    assert onnx.load(str(same)).model_version == proto.model_version
    bb = ToyBackbone()
    torch.manual_seed(1)
    export_onnx(nn.Sequential(bb, Head(3, in_dim=8)).eval(), other, 16, "logits")
    assert onnx.load(str(other)).model_version != proto.model_version


@pytest.mark.parametrize("net", [Head(3, in_dim=8), BottleneckNet(3, 8, 4, 0.1),
                                 DannNet(3, 8, 4, 5, 0.1),
                                 Ensemble.of([Head(3, in_dim=8), BottleneckNet(3, 8, 4, 0.1)])],
                         ids=lambda n: n.kind)
def test_composed_graph_equals_head_on_backbone(tmp_path, net):
    """A stored backbone graph + any head kind = one file computing head(backbone(x))."""
    bb = ToyBackbone().eval()
    trunk = tmp_path / "trunk.onnx"
    export_onnx(bb, trunk, 16, "features")
    out = tmp_path / "composed.onnx"
    meta = _meta()
    export.compose(trunk, net.eval(), out, 18, meta, export.doc_string(meta))
    proto = onnx.load(str(out))
    onnx.checker.check_model(proto, full_check=True)
    assert [i.name for i in proto.graph.input] == ["image"]
    assert [o.name for o in proto.graph.output] == ["logits"]
    assert proto.doc_string and proto.model_version == graph_version(proto)
    assert {p.key: p.value for p in proto.metadata_props} == meta
    x = np.random.default_rng(0).random((5, 3, 16, 16), dtype=np.float32)
    with torch.inference_mode():
        ref = net(bb(torch.from_numpy(x))).numpy()
    got = ort_session(out, device="cpu").run(None, {"image": x})[0]
    np.testing.assert_allclose(got, ref, atol=1e-5)
