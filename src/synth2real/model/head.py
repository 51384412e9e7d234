"""Training and evaluating the classification head on cached features.

Only the final layer is trained (DESIGN.md §1): Adam, cross-entropy, StepLR.
Inputs are cached backbone features X [N, 1280] and integer labels y [N].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from synth2real.config import Train
from synth2real.model.backbone import FEATURE_DIM, Head


@dataclass
class History:
    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)


def optimizer(head: nn.Module, cfg: Train) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.StepLR]:
    """The study's optimiser: Adam at `cfg.lr`, StepLR(`cfg.step_size`, `cfg.gamma`) per epoch."""
    opt = torch.optim.Adam(head.parameters(), lr=cfg.lr)
    return opt, torch.optim.lr_scheduler.StepLR(opt, step_size=cfg.step_size, gamma=cfg.gamma)


def train_head(
    X: np.ndarray, y: np.ndarray, num_classes: int, cfg: Train, seed: int,
) -> tuple[Head, History]:
    """Fit a fresh `Head` on (X, y) with the configured optimiser and schedule."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    head = Head(num_classes, cfg.dropout, in_dim=X.shape[1])
    opt, sched = optimizer(head, cfg)
    loss_fn = nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(np.ascontiguousarray(X, np.float32)), torch.from_numpy(y.astype(np.int64))
    hist = History()
    for _ in range(cfg.epochs):
        head.train()
        hist.lr.append(opt.param_groups[0]["lr"])
        order = torch.randperm(len(Xt), generator=gen)
        total = 0.0
        for i in range(0, len(order), cfg.batch_size):
            idx = order[i : i + cfg.batch_size]
            opt.zero_grad()
            loss = loss_fn(head(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        hist.loss.append(total / max(len(order), 1))
        sched.step()
    return head.eval(), hist


def predict_proba(head: Head, X: np.ndarray) -> np.ndarray:
    """Softmax probabilities [N, C] (eval mode: dropout off)."""
    with torch.inference_mode():
        return torch.softmax(head.eval()(torch.from_numpy(np.ascontiguousarray(X, np.float32))), 1).numpy()


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


def save_head(head: Head, path: str | Path, classes: Sequence[str], dropout: float) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": head.state_dict(), "classes": list(classes), "dropout": dropout,
                "in_dim": head.linear.in_features}, path)


def load_head(path: str | Path) -> tuple[Head, list[str]]:
    blob = torch.load(path, map_location="cpu", weights_only=True)
    head = Head(len(blob["classes"]), blob["dropout"], in_dim=blob.get("in_dim", FEATURE_DIM))
    head.load_state_dict(blob["state_dict"])
    return head.eval(), list(blob["classes"])
