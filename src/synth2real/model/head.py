"""What is trained above the frozen backbone: the nets, inference, scores and checkpoints.

Inputs are cached backbone features X [N, 1280]. Every trained model (the
study's `Head`, the pool objectives' `BottleneckNet`, DANN's `DannNet`) maps
features to logits, is saved with `save` and read back with `load` (one
checkpoint format), and is scored through `predict_proba` (with the deploy
predictor's softmax, the only one). Training is `synth2real.model.stacked`'s,
which addresses every parameter by the names these modules give it.
"""

from __future__ import annotations

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


NETS: dict[str, type[nn.Module]] = {net.kind: net for net in (Head, BottleneckNet, DannNet)}


def logits(model: nn.Module, X: np.ndarray) -> np.ndarray:
    """Logits [N, C] of any trained model on features X (eval mode: dropout off)."""
    with torch.inference_mode():
        return model.eval()(torch.from_numpy(np.ascontiguousarray(X, np.float32))).numpy()


def embed(net: BottleneckNet, X: np.ndarray) -> np.ndarray:
    """The bottleneck features [N, B] of features X under a `BottleneckNet` (DANN's too; eval mode)."""
    with torch.inference_mode():
        return net.eval().embed(torch.from_numpy(np.ascontiguousarray(X, np.float32))).numpy()


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
