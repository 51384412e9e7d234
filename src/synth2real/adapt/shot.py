"""SHOT (Liang et al., 2020), the full recipe, on the frozen cached features (or a trained
last block).

    stage 1  source model: f -> bottleneck g(f) -> classifier h -> logits, cross-entropy with
             label smoothing on the labeled synthetic split (SHOT's source training)
    stage 2  the pool alone, h frozen (its learning rate 0), g (and a last block) adapted by

             L = IM(pool minibatch) + centroid_weight * CE(logits, centroid pseudo-labels)

The centroid pseudo-labels are recomputed before every stage-2 epoch from the current model
(`centroid_labels`): SHOT's obtain_label, with its bias column and cosine distance. What SHOT's
networks have and this one lacks: the bottleneck's BatchNorm and the classifier's weight
normalisation (the study's bottleneck net is Linear + ReLU + Dropout; see config.Shot).
The pool's labels are never read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch
import torch.nn.functional as F

from synth2real.adapt.objectives import im_loss
from synth2real.config import Shot, Train
from synth2real.model import stacked
from synth2real.model.head import BottleneckNet

# Pool images per no-grad forward when the pseudo-labels are refreshed (a block's hidden map
# is 49 x 1280 floats per image and model).
CHUNK = 256


def centroid_labels(z: torch.Tensor, probs: torch.Tensor, rounds: int = 2) -> torch.Tensor:
    """SHOT's centroid pseudo-labels of one model's pool: features z [P, B], its softmax
    predictions probs [P, C] -> class indices [P].

    Features get a constant 1 appended and are L2-normalised; round 1's class centroids are
    the prediction-weighted means c_k = sum_i p_ik f_i / sum_i p_ik, each image takes the
    class of the centroid nearest in cosine distance; each further round recomputes the
    centroids from those hard labels (classes left without an image keep no centroid).
    """
    f = torch.cat([z, torch.ones(len(z), 1, dtype=z.dtype)], 1)
    f = f / f.norm(dim=1, keepdim=True).clamp_min(1e-12)
    weights = probs.to(f.dtype)
    labels = probs.argmax(1)
    for _ in range(rounds):
        mass = weights.sum(0)
        centroids = weights.T @ f / mass.clamp_min(1e-12).unsqueeze(1)
        centroids = centroids / centroids.norm(dim=1, keepdim=True).clamp_min(1e-12)
        similarity = f @ centroids.T
        similarity[:, mass <= 0] = -torch.inf  # an empty class has no centroid
        labels = similarity.argmax(1)
        weights = F.one_hot(labels, probs.shape[1]).to(f.dtype)
    return labels


def _inner(p: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], bool]:
    """The bottleneck net's parameters (behind a last block: under `classifier.`)."""
    if "block.linear.weight" not in p:
        return p, False
    return {k.removeprefix("classifier."): v for k, v in p.items()
            if k.startswith("classifier.")}, True


def _forward(p: dict[str, torch.Tensor], x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode bottleneck features and logits of stacked inputs x [M, N, ...]."""
    inner, has_block = _inner(p)
    if has_block:
        x = stacked.block(x, p["block.linear.weight"], p["block.linear.bias"])
    z = torch.relu(stacked.linear(x, inner["bottleneck.weight"], inner["bottleneck.bias"]))
    return z, stacked.linear(z, inner["classifier.weight"], inner["classifier.bias"])


def source_recipe(cfg: Shot, n_classes: int, in_dim: int, train: Train) -> stacked.Recipe:
    """Stage 1: a fresh `BottleneckNet` on the labeled source, cross-entropy with label
    smoothing `cfg.label_smoothing`, the study's schedule."""
    def loss(p: dict[str, torch.Tensor], b: stacked.Batch) -> dict[str, torch.Tensor]:
        z = b.dropout(torch.relu(stacked.linear(b.x, p["bottleneck.weight"],
                                                p["bottleneck.bias"])), train.dropout)
        logits = stacked.linear(z, p["classifier.weight"], p["classifier.bias"])
        return {"class_loss": stacked.cross_entropy(logits, b.y, b.weight,
                                                    cfg.label_smoothing)}

    return stacked.Recipe(lambda: BottleneckNet(n_classes, in_dim, cfg.bottleneck,
                                                train.dropout), loss, stacked.Schedule.of(train))


def adapt_recipe(cfg: Shot, source: stacked.Recipe, train: Train, block: bool) -> stacked.Recipe:
    """Stage 2 of the nets `source` trained (behind a last block when `block`: the block
    keeps its rate scale, SHOT's backbone at 0.1x): the models' members are the pool rows;
    the classifier's rate is 0 (frozen)."""
    labels: dict[str, torch.Tensor] = {}

    def loss(p: dict[str, torch.Tensor], b: stacked.Batch) -> dict[str, torch.Tensor]:
        inner, has_block = _inner(p)
        x = stacked.block(b.x, p["block.linear.weight"], p["block.linear.bias"]) \
            if has_block else b.x
        z = b.dropout(torch.relu(stacked.linear(x, inner["bottleneck.weight"],
                                                inner["bottleneck.bias"])), train.dropout)
        logits = stacked.linear(z, inner["classifier.weight"], inner["classifier.bias"])
        target = torch.gather(labels["table"], 1, b.index)
        return {"im_loss": im_loss(logits, cfg.entropy, cfg.diversity),
                "centroid_loss": cfg.centroid_weight * stacked.cross_entropy(logits, target,
                                                                             b.weight)}

    def refresh(table: torch.Tensor, members: Sequence[stacked.Members]) -> stacked.Refresh:
        rows = torch.from_numpy(members[0].rows)
        if any(len(m.rows) != len(rows) or (m.rows != members[0].rows).any() for m in members):
            raise ValueError("SHOT's stage 2 trains every model on the same pool rows")

        def run(p: dict[str, torch.Tensor]) -> None:
            zs, gs = [], []
            for i in range(0, len(rows), CHUNK):
                x = table[rows[i:i + CHUNK]].float().expand(len(members), -1, *table.shape[1:])
                z, g = _forward(p, x)
                zs.append(z)
                gs.append(g)
            z, g = torch.cat(zs, 1), torch.cat(gs, 1)
            out = torch.zeros(len(members), len(table), dtype=torch.int64)
            for k in range(len(members)):
                out[k, rows] = centroid_labels(z[k], F.softmax(g[k], -1), cfg.centroid_rounds)
            labels["table"] = out
        return run

    epochs = cfg.adapt_epochs or source.schedule.epochs
    frozen = "classifier.classifier." if block else "classifier."
    schedule = replace(source.schedule, epochs=epochs,
                       lr_scale=((frozen, 0.0), *source.schedule.lr_scale))
    return stacked.Recipe(source.make, loss, schedule, refresh=refresh)
