"""Stage: the domain gap made visible, as 2-D t-SNE panels of source vs target representations,
each with its proxy A-distance and its Fréchet distance (`analysis.domain`)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from synth2real.analysis.domain import frechet_distance, proxy_a_distance, tsne_2d
from synth2real.data.imagesets import read_features
from synth2real.data.manifests import read_csv, source_subset
from synth2real.model import head

log = logging.getLogger(__name__)


def domain_embedding(source: str, dann: list[str], features: list[str], npz: str, *,
                     panels: list[str], source_size: int, domain_sample: int, data_seed: int,
                     seeds: list[int]) -> None:
    """2-D t-SNE of source-train vs pool features per representation, with each panel's PAD
    (`pad_<i>`, on up to `domain_sample` rows per domain) and Fréchet distance (`frechet_<i>`,
    on every source-train row and every pool row; MobileNetV2 features, not an FID).

    `panels[i]` is drawn from the feature caches `features[2 i]` (source, manifest `source`:
    plain, aligned or pixel-refined, each cached under the original paths) and
    `features[2 i + 1]` (pool). With a DANN checkpoint (the first seed's, `dann`), one more
    panel: its bottleneck on the first panel's features.
    """
    if len(features) != 2 * len(panels):
        raise ValueError(f"{len(panels)} panels need {2 * len(panels)} feature files, got "
                         f"{len(features)}")
    rows = source_subset(read_csv(source), source_size, "train")
    paths = [r["path"] for r in rows]

    def source_features(path: str) -> np.ndarray:
        cache = read_features(path)
        return cache.features[[cache.index[p] for p in paths]]

    reps = {label: (source_features(src), read_features(pool).features)
            for label, src, pool in zip(panels, features[0::2], features[1::2], strict=True)}
    if dann:
        net, _ = head.load(dann[0])
        S, T = next(iter(reps.values()))
        reps[f"after: DANN bottleneck (seed {seeds[0]})"] = (head.embed(net, S), head.embed(net, T))
    out: dict[str, np.ndarray] = {}
    for i, (label, (S, T)) in enumerate(reps.items()):
        pts, dom = tsne_2d(S, T, domain_sample // 2, data_seed)
        out[f"points_{i}"], out[f"domain_{i}"] = pts, dom
        out[f"pad_{i}"] = np.float64(proxy_a_distance(S, T, domain_sample, data_seed))
        out[f"frechet_{i}"] = np.float64(frechet_distance(S, T))
        log.info("t-SNE panel %r: %d points, PAD %.3f, Fréchet %.2f", label, len(pts),
                 out[f"pad_{i}"], out[f"frechet_{i}"])
    Path(npz).parent.mkdir(parents=True, exist_ok=True)
    np.savez(npz, labels=np.asarray(list(reps)), **out)
