"""The domain-gap panels: each one's t-SNE points, PAD and Fréchet distance, on the rows the
stage names (the source-train subset, the whole pool), from caches in any row order."""

from __future__ import annotations

import numpy as np
import pytest

from synth2real.analysis.domain import frechet_distance
from synth2real.analysis.embedding import domain_embedding
from synth2real.data.imagesets import save_features
from synth2real.data.manifests import SOURCE_FIELDS, write_csv


def test_every_panel_stores_its_pad_and_its_frechet_distance_on_the_source_train_rows(tmp_path):
    rng = np.random.default_rng(0)
    rows = [{"path": f"s/{c}/{r}.png", "label": c, "rank": r, "split": "val" if r % 5 == 0
             else "train"} for c in ("dog", "cat") for r in range(30)]
    write_csv(tmp_path / "source.csv", rows, SOURCE_FIELDS)
    paths = [r["path"] for r in rows]
    caches = []
    for kind, shift in (("plain", 3.0), ("fda", 1.0)):
        feats = rng.normal(shift, 1.0, (len(rows), 6)).astype(np.float32)
        order = rng.permutation(len(rows))  # a cache's row order is its own
        save_features(tmp_path / f"{kind}.npz", feats[order], [paths[i] for i in order],
                      "source", kind)
        caches.append(feats)
    pool = rng.normal(0.0, 1.0, (40, 6)).astype(np.float32)
    save_features(tmp_path / "pool.npz", pool, [f"p/{i}.png" for i in range(40)], "pool", "plain")
    npz = tmp_path / "tsne.npz"
    domain_embedding(str(tmp_path / "source.csv"), [],
                     [str(tmp_path / "plain.npz"), str(tmp_path / "pool.npz"),
                      str(tmp_path / "fda.npz"), str(tmp_path / "pool.npz")], str(npz),
                     panels=["before", "FDA-refined source"], source_size=20, domain_sample=16,
                     data_seed=0, seeds=[0])
    train = [i for i, r in enumerate(rows) if r["rank"] < 20 and r["split"] == "train"]
    with np.load(npz) as z:
        assert list(z["labels"]) == ["before", "FDA-refined source"]
        for i, feats in enumerate(caches):
            assert float(z[f"frechet_{i}"]) == pytest.approx(
                frechet_distance(feats[train], pool), rel=1e-6)
            assert 0.0 <= float(z[f"pad_{i}"]) <= 2.0
            assert z[f"points_{i}"].shape == (16, 2)
        # The further-shifted source lies further from the pool.
        assert float(z["frechet_0"]) > float(z["frechet_1"])
