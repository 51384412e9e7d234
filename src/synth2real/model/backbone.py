"""The frozen MobileNetV2 backbone, the full classifier built on it, and ONNX export.

Both graphs take RGB in [0, 1] ([N, 3, S, S], float32) and normalise with
the ImageNet mean/std *inside* the graph, so every consumer (feature cache,
ONNX deployers, demo) feeds the same `predict.preprocess` output.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from synth2real import config
from synth2real.data.sources import resolve_weights
from synth2real.store import write_json

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
FEATURE_DIM = 1280  # MobileNetV2's pooled feature width


class Normalize(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class Backbone(nn.Module):
    """[N, 3, S, S] in [0, 1] -> pooled features [N, 1280] (MobileNetV2 minus its classifier)."""

    def __init__(self, mobilenet: nn.Module) -> None:
        super().__init__()
        self.normalize = Normalize()
        self.features = mobilenet.features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(self.normalize(x))  # [N, 1280, S/32, S/32]
        return x.mean(dim=(2, 3))  # global average pool, as torchvision does


class Classifier(nn.Module):
    """Full model for deployment: image [N, 3, S, S] in [0, 1] -> logits [N, C]."""

    def __init__(self, backbone: Backbone, head: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def load_backbone(weights_path: str | Path) -> Backbone:
    """MobileNetV2 with the given torchvision-format state_dict, frozen, in eval mode."""
    from torchvision.models import mobilenet_v2

    net = mobilenet_v2(weights=None)
    state = torch.load(weights_path, map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    bb = Backbone(net).eval()
    for p in bb.parameters():
        p.requires_grad_(False)
    return bb


def export_onnx(
    model: nn.Module, path: str | Path, image_size: int, output_name: str,
    opset: int = 18, metadata: dict[str, str] | None = None,
) -> Path:
    """Export `model` (input `image` [N,3,S,S]) to one self-contained ONNX file, dynamic N."""
    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.onnx")
    dummy = torch.rand(2, 3, image_size, image_size)
    model = model.eval()
    # The TorchScript exporter gives a plain, fully static-weight graph; the
    # dynamo exporter is the future default but needs no gain here.
    torch.onnx.export(
        model, (dummy,), str(tmp), input_names=["image"], output_names=[output_name],
        dynamic_axes={"image": {0: "N"}, output_name: {0: "N"}}, opset_version=opset,
        dynamo=False,
    )
    proto = onnx.load(str(tmp))
    for k, v in (metadata or {}).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))  # single file: weights are far below the 2 GB external-data limit
    tmp.unlink()
    return path


def ort_session(path: str | Path, threads: int | None = None):
    """An onnxruntime CPU/CUDA session tuned for batch throughput."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
                 if p in ort.get_available_providers()]
    return ort.InferenceSession(str(path), sess_options=opts, providers=providers)


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))


def parity(model: nn.Module, session, batch: np.ndarray) -> float:
    """max |torch(batch) - onnxruntime(batch)| over all outputs."""
    with torch.no_grad():
        ref = model(torch.from_numpy(batch)).numpy()
    got = session.run(None, {session.get_inputs()[0].name: batch})[0]
    return max_abs_diff(ref, got)


def export_backbone(out_onnx: str, out_json: str, *, backbone: config.Backbone,
                    features: config.Features, export: config.Export) -> None:
    """Stage: resolve and verify the weights, export the frozen backbone to ONNX, check parity."""
    info = resolve_weights(backbone.weights)
    bb = load_backbone(info["path"])
    size = backbone.image_size
    export_onnx(bb, out_onnx, size, "features", opset=export.opset)
    batch = np.random.default_rng(0).random((4, 3, size, size), dtype=np.float32)
    diff = parity(bb, ort_session(out_onnx), batch)
    if diff > features.parity_tol:
        raise RuntimeError(f"backbone ONNX export differs from torch by {diff:.2e} "
                           f"(> features.parity_tol={features.parity_tol})")
    write_json({**info, "arch": backbone.arch, "image_size": size,
                "onnx_parity_max_abs_diff": diff}, out_json)
