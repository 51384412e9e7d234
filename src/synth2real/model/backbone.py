"""The frozen MobileNetV2 backbone, the full classifier built on it, and ONNX export.

Both graphs take RGB in [0, 1] ([N, 3, S, S], float32) and normalise with
the ImageNet mean/std *inside* the graph, so every consumer (feature cache,
ONNX deployers, demo) feeds the same `predict.preprocess` output.
"""

from __future__ import annotations

from collections.abc import Sequence
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


# MobileNetV2's last block, features[18]: 1x1 conv 320 -> 1280, BatchNorm, ReLU6. Its input is
# what a trained last block (`synth2real.model.head.LastBlock`) reads from the cache.
LAST_BLOCK = 18


class Backbone(nn.Module):
    """[N, 3, S, S] in [0, 1] -> pooled features [N, 1280] (MobileNetV2 minus its classifier)."""

    def __init__(self, mobilenet: nn.Module) -> None:
        super().__init__()
        self.normalize = Normalize()
        self.features = mobilenet.features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(self.normalize(x))  # [N, 1280, S/32, S/32]
        return x.mean(dim=(2, 3))  # global average pool, as torchvision does

    def block_input(self, x: torch.Tensor) -> torch.Tensor:
        """The last block's input [N, P, 320], P = (S/32)^2 positions, channels last."""
        return channels_last(self.features[:LAST_BLOCK](self.normalize(x)))


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """[N, C, H, W] -> [N, H*W, C]: the layout a 1x1 conv as a Linear reads."""
    return x.flatten(2).transpose(1, 2)


class WithBlockInput(nn.Module):
    """The backbone graph the feature caches are computed with: pooled features, and the last
    block's input beside them (one pass gives both caches)."""

    def __init__(self, backbone: Backbone) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.backbone.features[:LAST_BLOCK](self.backbone.normalize(x))
        pooled = self.backbone.features[LAST_BLOCK:](h).mean(dim=(2, 3))
        return pooled, channels_last(h)


class BlockClassifier(nn.Module):
    """Full model for deployment of a `BlockNet`: image -> frozen backbone up to the last block
    -> the trained last block + classifier -> logits [N, C]."""

    def __init__(self, backbone: Backbone, net: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.backbone.block_input(x))


def last_block_weights(features: nn.Module) -> dict[str, torch.Tensor]:
    """The pretrained last block as `LastBlock`'s state dict: its eval-mode BatchNorm folded into
    the 1x1 conv, W' = W * g / sqrt(v + eps), b' = beta - mu * g / sqrt(v + eps)."""
    conv, bn = features[LAST_BLOCK][0], features[LAST_BLOCK][1]
    with torch.no_grad():
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        return {"linear.weight": (conv.weight[:, :, 0, 0] * scale[:, None]).clone(),
                "linear.bias": (bn.bias - bn.running_mean * scale).clone()}


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
    model: nn.Module, path: str | Path, image_size: int, output_name: str | Sequence[str],
    opset: int = 18, metadata: dict[str, str] | None = None, doc_string: str = "",
) -> Path:
    """Export `model` (input `image` [N,3,S,S]) to one self-contained ONNX file, dynamic N;
    one output per name of `output_name` (the model returns a tuple for several).

    The file is finished by `finish_onnx` (metadata, doc string, model version, full check).
    """
    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.onnx")
    dummy = torch.rand(2, 3, image_size, image_size)
    model = model.eval()
    # The TorchScript exporter gives a plain, fully static-weight graph; the
    # dynamo exporter is the future default but needs no gain here.
    names = [output_name] if isinstance(output_name, str) else list(output_name)
    torch.onnx.export(
        model, (dummy,), str(tmp), input_names=["image"], output_names=names,
        dynamic_axes={"image": {0: "N"}, **{n: {0: "N"} for n in names}}, opset_version=opset,
        dynamo=False,
    )
    proto = onnx.load(str(tmp))
    finish_onnx(proto, path, metadata, doc_string)
    tmp.unlink()
    return path


def graph_version(proto) -> int:
    """`model_version` of an ONNX model: the first 60 bits of SHA-256 over its serialized graph.

    Deterministic and content-derived: two files share a version exactly when their
    graphs (operators and weights) are byte-identical, whatever the metadata says.
    """
    import hashlib

    return int(hashlib.sha256(proto.graph.SerializeToString()).hexdigest()[:15], 16)


def finish_onnx(proto, path: str | Path, metadata: dict[str, str] | None = None,
                doc_string: str = "") -> Path:
    """Stamp `proto` (metadata_props, doc_string, model_version), run the full ONNX checker
    (shape and type inference included), and save it as one self-contained file at `path`."""
    import onnx

    proto.model_version = graph_version(proto)
    if doc_string:
        proto.doc_string = doc_string
    del proto.metadata_props[:]
    for k, v in (metadata or {}).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.checker.check_model(proto, full_check=True)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, str(path))  # single file: weights are far below the 2 GB external-data limit
    return path


def ort_session(path: str | Path, threads: int | None = None, device: str = "auto"):
    """An onnxruntime session tuned for batch throughput, on the GPU where one is usable.

    `device`: "auto" asks for CUDA when onnxruntime has the CUDA provider (the
    onnxruntime-gpu build) and torch sees a GPU, else the CPU; "cuda" asks for
    CUDA or fails; "cpu" never uses it. The providers in use are logged.
    Raises RuntimeError when a requested CUDA provider did not load: onnxruntime
    itself only warns and runs on the CPU (e.g. a CUDA/cuDNN library it needs is
    missing or another version than torch's).
    """
    import logging

    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    available = ort.get_available_providers()
    cuda = "CUDAExecutionProvider"
    if device == "cuda" and cuda not in available:
        raise RuntimeError(f"onnxruntime has no {cuda} (providers {available}): the CPU build "
                           "is installed; install the `gpu` extra (make setup ORT=gpu)")
    want_cuda = device == "cuda" or (device == "auto" and cuda in available
                                     and torch.cuda.is_available())
    requested = [cuda, "CPUExecutionProvider"] if want_cuda else ["CPUExecutionProvider"]
    # Full float32 on the GPU: TF32, which the CUDA provider may use on Ampere and newer GPUs,
    # rounds convolution inputs to 10-bit mantissas, far outside the features' parity tolerance.
    options = {cuda: {"use_tf32": "0"}}
    session = ort.InferenceSession(str(path), sess_options=opts,
                                   providers=[(p, options[p]) if p in options else p
                                              for p in requested])
    used = session.get_providers()
    logging.getLogger(__name__).info("onnxruntime session %s: providers %s (requested %s)",
                                     Path(path).name, used, requested)
    missing = fallen_back(requested, used)
    if missing:
        raise RuntimeError(f"onnxruntime did not load {missing} (requested {requested}, "
                           f"running on {used}): its CUDA libraries do not match this machine's; "
                           "see the onnxruntime-gpu install notes (CUDA and cuDNN versions)")
    return session


def fallen_back(requested: list[str], used: list[str]) -> list[str]:
    """The requested GPU providers that the session is not using (empty: none fell back)."""
    return [p for p in requested if p != "CPUExecutionProvider" and p not in used]


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))


def parity(model: nn.Module, session, batch: np.ndarray) -> float:
    """max |torch(batch) - onnxruntime(batch)| over all outputs."""
    with torch.no_grad():
        ref = model(torch.from_numpy(batch)).numpy()
    got = session.run(None, {session.get_inputs()[0].name: batch})[0]
    return max_abs_diff(ref, got)


def export_backbone(onnx: str, info: str, *, backbone: config.Backbone,
                    features: config.Features, export: config.Export) -> None:
    """Stage: resolve and verify the weights, export the frozen backbone to ONNX, check parity."""
    weights = resolve_weights(backbone.weights)
    bb = load_backbone(weights["path"])
    size = backbone.image_size
    # The last block's input as a second output: one pass caches both (model.features).
    export_onnx(WithBlockInput(bb), onnx, size, ["features", "block_input"], opset=export.opset)
    batch = np.random.default_rng(0).random((4, 3, size, size), dtype=np.float32)
    diff = parity(bb, ort_session(onnx), batch)
    if diff > features.parity_tol:
        raise RuntimeError(f"backbone ONNX export differs from torch by {diff:.2e} "
                           f"(> features.parity_tol={features.parity_tol})")
    write_json({**weights, "arch": backbone.arch, "image_size": size,
                "onnx_parity_max_abs_diff": diff}, info)
