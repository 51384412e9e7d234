"""What is trained above the frozen backbone: the nets, inference, scores and checkpoints.

Inputs are cached backbone features X [N, 1280]. Every trained model (the
study's `Head`, the pool objectives' `BottleneckNet`, DANN's `DannNet`) maps
features to logits, is saved with `save` and read back with `load` (one
checkpoint format), and is scored through `predict_proba` (with the deploy
predictor's softmax, the only one). A `BlockNet` trains MobileNetV2's last block
too: it reads the cached block inputs X [N, 49, 320] (the 7x7x320 map before the
block, channels last) instead. Training is `synth2real.model.stacked`'s, which
addresses every parameter by the names these modules give it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from synth2real.model.backbone import FEATURE_DIM
from synth2real.predict import softmax


class Head(nn.Module):
    """The study's classifier: torchvision's MobileNetV2 shape, Dropout + Linear(1280, C)."""

    kind = "head"

    def __init__(self, num_classes: int, dropout: float = 0.2, in_dim: int = FEATURE_DIM) -> None:
        super().__init__()
        self.args = {"num_classes": num_classes, "dropout": dropout, "in_dim": in_dim}
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(in_dim, num_classes)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.linear(self.dropout(f))


class BottleneckNet(nn.Module):
    """A learned bottleneck on the frozen features + a linear label classifier.

    f [N, in_dim] -> `bottleneck` Linear -> ReLU -> Dropout -> z [N, width] -> `classifier`
    Linear -> logits [N, C]. The model of every pool objective trained on the cached
    features; `embed` gives z.
    """

    kind = "bottleneck"

    def __init__(self, num_classes: int, in_dim: int, bottleneck: int, dropout: float) -> None:
        super().__init__()
        self.args: dict[str, Any] = {"num_classes": num_classes, "in_dim": in_dim,
                                     "bottleneck": bottleneck, "dropout": dropout}
        self.bottleneck = nn.Linear(in_dim, bottleneck)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(bottleneck, num_classes)

    def embed(self, f: torch.Tensor) -> torch.Tensor:
        return self.dropout(torch.relu(self.bottleneck(f)))

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(f))


class DannNet(BottleneckNet):
    """DANN's model: a `BottleneckNet` plus a domain classifier used only in training:
    z -> `domain_hidden` Linear -> ReLU -> Dropout -> `domain_out` Linear -> domain logit."""

    kind = "dann"

    def __init__(self, num_classes: int, in_dim: int, bottleneck: int, hidden: int,
                 dropout: float) -> None:
        super().__init__(num_classes, in_dim, bottleneck, dropout)
        self.args = {"num_classes": num_classes, "in_dim": in_dim, "bottleneck": bottleneck,
                     "hidden": hidden, "dropout": dropout}
        self.domain_hidden = nn.Linear(bottleneck, hidden)
        self.domain_out = nn.Linear(hidden, 1)


BLOCK_IN, BLOCK_OUT = 320, FEATURE_DIM  # MobileNetV2's last block: 1x1 conv 320 -> 1280


class LastBlock(nn.Module):
    """MobileNetV2's last block, features[18] (1x1 conv 320 -> 1280, BatchNorm, ReLU6), and the
    global average pool after it: block inputs x [N, P, 320] (P = 7x7 positions, channels
    last) -> pooled features [N, 1280]. The BatchNorm, in eval mode, is an affine map folded
    into the conv (`synth2real.model.backbone.last_block_weights`): a 1x1 conv over channels
    last is a Linear.

    On a CPU its matmul (20 MFLOP per image, ~1000x a head's) runs in bfloat16 with float32
    accumulation, as in training (`stacked.block`): twice as fast. `bfloat16 = False` gives the
    float32 block, as exported to ONNX (`synth2real.model.export.deployable`)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(BLOCK_IN, BLOCK_OUT)
        self.bfloat16 = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16,
                            enabled=self.bfloat16 and x.device.type == "cpu"):
            h = torch.nn.functional.relu6(self.linear(x))
        return h.float().mean(-2)


class BlockNet(nn.Module):
    """A trained last block + any classifier net on its pooled features (`classifier`)."""

    kind = "block"

    def __init__(self, classifier: dict[str, Any]) -> None:
        super().__init__()
        self.args = {"classifier": classifier}
        self.block = LastBlock()
        self.classifier = NETS[classifier["kind"]](**classifier["args"])

    @classmethod
    def around(cls, net: nn.Module) -> BlockNet:
        """A BlockNet whose classifier is a copy of `net`'s kind and arguments (fresh weights
        for the block: load them with `block.load_state_dict`)."""
        out = cls({"kind": net.kind, "args": dict(net.args)})
        out.classifier.load_state_dict(net.state_dict())
        return out

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        f = self.block(x)
        return self.classifier.embed(f) if isinstance(self.classifier, BottleneckNet) else f

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.block(x))


class Ensemble(nn.Module):
    """Several trained nets on the same inputs, their softmax outputs averaged: logits
    log(mean_k softmax(member_k(f))) + `shift` (a label-shift correction, zero unless set),
    so that the softmax of the output is the averaged prediction."""

    kind = "ensemble"

    def __init__(self, members: Sequence[dict[str, Any]]) -> None:
        super().__init__()
        self.args = {"members": [dict(m) for m in members]}
        self.members = nn.ModuleList(NETS[m["kind"]](**m["args"]) for m in members)
        num_classes = members[0]["args"]["num_classes"]
        self.register_buffer("shift", torch.zeros(num_classes))

    @classmethod
    def of(cls, nets: Sequence[nn.Module]) -> Ensemble:
        """An ensemble of copies of trained `nets` (every one a net kind of `NETS`)."""
        out = cls([{"kind": n.kind, "args": dict(n.args)} for n in nets])
        for member, net in zip(out.members, nets, strict=True):
            member.load_state_dict(net.state_dict())
        return out.eval()

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        logp = torch.stack([torch.log_softmax(m(f), -1) for m in self.members])
        return torch.logsumexp(logp, 0) - math.log(len(self.members)) + self.shift


NETS: dict[str, type[nn.Module]] = {net.kind: net for net in (Head, BottleneckNet, DannNet,
                                                              BlockNet, Ensemble)}


def shift_logits(model: nn.Module, delta: np.ndarray) -> None:
    """Add `delta` [C] to every output logit of `model`, in place: to the bias of the linear
    layer that makes its logits (an ensemble: to its `shift`)."""
    d = torch.as_tensor(delta, dtype=torch.float32)
    with torch.no_grad():
        if isinstance(model, Ensemble):
            model.shift += d
        elif isinstance(model, BlockNet):
            shift_logits(model.classifier, delta)
        else:
            (model.linear if isinstance(model, Head) else model.classifier).bias += d

# Images per inference call of a block model: its hidden map is 49 x 1280 floats per image.
_CHUNK = 256


def _apply(fn: Any, X: np.ndarray) -> np.ndarray:
    """fn over X as float32 (block inputs [N, P, 320] in chunks; cached features at once)."""
    def run(x: np.ndarray) -> np.ndarray:
        return fn(torch.from_numpy(np.ascontiguousarray(x, np.float32))).numpy()

    with torch.inference_mode():
        if X.ndim == 2 or len(X) <= _CHUNK:
            return run(X)
        return np.concatenate([run(X[i:i + _CHUNK]) for i in range(0, len(X), _CHUNK)])


def logits(model: nn.Module, X: np.ndarray) -> np.ndarray:
    """Logits [N, C] of any trained model on its inputs X (cached features, or block inputs for
    a `BlockNet`; eval mode: dropout off)."""
    return _apply(model.eval(), X)


def pooled(net: BlockNet, X: np.ndarray) -> np.ndarray:
    """A block model's pooled block output [N, 1280] of its block inputs X: what its classifier
    reads (so `classifier` on it scores exactly as the whole net does on X)."""
    return _apply(net.eval().block, X)


def embed(net: nn.Module, X: np.ndarray) -> np.ndarray:
    """The representation [N, B] a net's label classifier reads, of its inputs X: a learned
    bottleneck's features (DANN's too), a BlockNet's (its pooled block output, then its
    classifier's bottleneck if any); eval mode."""
    return _apply(net.eval().embed, X)


def predict_proba(model: nn.Module, X: np.ndarray) -> np.ndarray:
    """Class probabilities [N, C] of any trained model on features X."""
    return softmax(logits(model, X))


def confusion(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts [C, C]; rows are true classes, columns predictions."""
    m = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(m, (y_true, y_pred), 1)
    return m


def scores(y_true: np.ndarray, probs: np.ndarray, classes: Sequence[str]) -> dict[str, object]:
    """Accuracy, per-class accuracy and confusion matrix of predictions `probs`."""
    pred = probs.argmax(1)
    cm = confusion(y_true, pred, len(classes))
    per_class = {c: float(cm[i, i] / cm[i].sum()) if cm[i].sum() else float("nan")
                 for i, c in enumerate(classes)}
    return {"acc": float((pred == y_true).mean()) if len(y_true) else float("nan"),
            "per_class_acc": per_class, "confusion": cm.tolist(), "n": len(y_true)}


def save(model: nn.Module, path: str | Path, classes: Sequence[str], **extra: Any) -> None:
    """The one checkpoint format: net kind, constructor arguments, classes, weights (+ `extra`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"kind": model.kind, "args": dict(model.args), "classes": list(classes),
                "state_dict": model.state_dict(), **extra}, path)


def load(path: str | Path) -> tuple[nn.Module, list[str]]:
    """(model in eval mode, class names) from a checkpoint written by `save`."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if blob.get("kind") not in NETS:
        raise ValueError(f"{path}: not a synth2real checkpoint (kind {blob.get('kind')!r}); "
                         "retrain it with this version")
    model = NETS[blob["kind"]](**blob["args"])
    model.load_state_dict(blob["state_dict"])
    return model.eval(), list(blob["classes"])
