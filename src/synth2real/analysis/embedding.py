"""Stage: the domain gap made visible, as 2-D t-SNE panels of source vs target representations."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from synth2real.analysis.domain import proxy_a_distance, tsne_2d
from synth2real.data.manifests import read_csv, source_subset
from synth2real.model import features, head

log = logging.getLogger(__name__)


def domain_embedding(source_csv: str, dann_checkpoints: list[str], out_npz: str, *,
                     pairs: dict[str, list[str]], source_size: int, domain_sample: int,
                     data_seed: int, seeds: list[int]) -> None:
    """2-D t-SNE of source-train vs pool features per representation, with each panel's PAD.

    `pairs`: panel label -> (source npz, pool npz). With a DANN checkpoint (the
    first seed's), one more panel: its bottleneck on the first pair's features.
    """
    rows = source_subset(read_csv(source_csv), source_size, "train")
    paths = [r["path"] for r in rows]
    reps = {label: (features.lookup(src, paths), features.load(pool)[0])
            for label, (src, pool) in pairs.items()}
    if dann_checkpoints:
        net, _ = head.load(dann_checkpoints[0])
        S, T = next(iter(reps.values()))
        reps[f"after: DANN bottleneck (seed {seeds[0]})"] = (head.embed(net, S), head.embed(net, T))
    panels: dict[str, np.ndarray] = {}
    for i, (label, (S, T)) in enumerate(reps.items()):
        pts, dom = tsne_2d(S, T, domain_sample // 2, data_seed)
        panels[f"points_{i}"], panels[f"domain_{i}"] = pts, dom
        panels[f"pad_{i}"] = np.float64(proxy_a_distance(S, T, domain_sample, data_seed))
        log.info("t-SNE panel %r: %d points", label, len(pts))
    Path(out_npz).parent.mkdir(parents=True, exist_ok=True)
    np.savez(out_npz, labels=np.asarray(list(reps)), **panels)

