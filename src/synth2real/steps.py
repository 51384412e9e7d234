"""One function per workflow step; the Snakemake rules are thin wrappers over these.

Every function takes the validated `Study` plus explicit input/output paths, so
each step also runs (and is tested) without Snakemake.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from synth2real import features, heads, manifests, provenance, pseudo, sources
from synth2real.config import Study
from synth2real.errors import DataError
from synth2real.store import read_json, write_json

log = logging.getLogger(__name__)


# ----------------------------------------------------------------- data ----


def source_manifest(cfg: Study, out_csv: str) -> None:
    root, shuffle = sources.source_root(cfg)
    rows = manifests.source_rows(root, cfg.classes, cfg.max_size, cfg.synthetic.val_fraction,
                                 cfg.data_seed, shuffle)
    manifests.write_csv(out_csv, rows, manifests.SOURCE_FIELDS)
    log.info("source manifest: %d images (%s)", len(rows), root)


def real_manifests(cfg: Study, out_test: str, out_pool: str) -> None:
    test_root, pool_root = sources.real_roots(cfg)
    r = cfg.real
    test, pool = manifests.real_rows(test_root, pool_root, cfg.classes, r.test_per_class,
                                     r.pool_size, r.ood_fraction, cfg.data_seed)
    manifests.write_csv(out_test, test, manifests.TEST_FIELDS)
    manifests.write_csv(out_pool, pool, manifests.POOL_FIELDS)
    log.info("real test: %d images, pool: %d images", len(test), len(pool))


# ------------------------------------------------------------- backbone ----


def backbone(cfg: Study, out_onnx: str, out_json: str) -> None:
    """Resolve + verify the weights, export the backbone to ONNX and check parity."""
    from synth2real.backbone import export_onnx, load_backbone, ort_session, parity

    info = sources.resolve_weights(cfg)
    bb = load_backbone(info["path"])
    size = cfg.backbone.image_size
    export_onnx(bb, out_onnx, size, "features", opset=cfg.export.opset)
    batch = np.random.default_rng(0).random((4, 3, size, size), dtype=np.float32)
    diff = parity(bb, ort_session(out_onnx), batch)
    if diff > cfg.features.parity_tol:
        raise RuntimeError(f"backbone ONNX export differs from torch by {diff:.2e}")
    write_json({**info, "arch": cfg.backbone.arch, "image_size": size,
                "onnx_parity_max_abs_diff": diff}, out_json)


def extract_features(cfg: Study, manifest_csv: str, backbone_json: str, backbone_onnx: str,
                     out_npz: str, out_stats: str) -> None:
    from synth2real.backbone import load_backbone

    paths = [r["path"] for r in manifests.read_csv(manifest_csv)]
    bb = load_backbone(read_json(backbone_json)["path"])
    ex = features.Extractor(bb, cfg.features.engine, backbone_onnx)
    feats, stats = features.extract(paths, ex, cfg.backbone.image_size, cfg.features.batch_size,
                                    cfg.features.parity_tol)
    features.save(out_npz, feats, paths)
    write_json({"engine": cfg.features.engine, **stats}, out_stats)


# ------------------------------------------------------------- training ----


def _labeled(cfg: Study, rows: list[dict[str, str]], feats_npz: str) -> tuple[np.ndarray, np.ndarray]:
    X = features.lookup(feats_npz, [r["path"] for r in rows])
    index = {c: i for i, c in enumerate(cfg.classes)}
    return X, np.array([index[r["label"]] for r in rows], dtype=np.int64)


def _fit_and_score(cfg: Study, seed: int, X: np.ndarray, y: np.ndarray, evals: dict[str, tuple],
                   out_dir: Path, **extra: object) -> None:
    head, hist = heads.train_head(X, y, len(cfg.classes), cfg.train, seed)
    metrics: dict[str, object] = {"seed": seed, "n_train": len(y), **extra,
                                  "history": {"loss": hist.loss, "lr": hist.lr}}
    for name, (Xe, ye) in evals.items():
        metrics[name] = heads.scores(ye, heads.predict_proba(head, Xe), cfg.classes)
    out_dir.mkdir(parents=True, exist_ok=True)
    heads.save_head(head, out_dir / "head.pt", cfg.classes, cfg.train.dropout)
    write_json(metrics, out_dir / "metrics.json")
    provenance.write(out_dir / "provenance.json", cfg, seed=seed)
    log.info("%s: train %.4f val %.4f test %.4f", out_dir, metrics["train"]["acc"],
             metrics["val"]["acc"], metrics["test"]["acc"])


def train_baseline(cfg: Study, size: int, source_csv: str, source_npz: str, test_csv: str,
                   test_npz: str, out_dirs: dict[int, str]) -> None:
    """One head per seed on the synthetic set of `size` per class; `out_dirs`: seed -> dir.

    All seeds run in one process: the cached features load once, and torch's
    first optimiser step (a ~10 s lazy import) is paid once per variant.
    """
    rows = manifests.read_csv(source_csv)
    train = _labeled(cfg, manifests.source_subset(rows, size, "train"), source_npz)
    val = _labeled(cfg, manifests.source_subset(rows, size, "val"), source_npz)
    test = _labeled(cfg, manifests.read_csv(test_csv), test_npz)
    for seed, out_dir in out_dirs.items():
        _fit_and_score(cfg, seed, *train, {"train": train, "val": val, "test": test},
                       Path(out_dir), variant=f"synthetic-{size}")


def pseudo_labels(cfg: Study, heads_pt: dict[int, str], pool_csv: str, pool_npz: str,
                  outputs: dict[int, tuple[str, str]]) -> None:
    """Each seed's source model labels the pool; keep confident predictions.

    `outputs`: seed -> (accepted.csv, diagnostics.json).
    """
    rows = manifests.read_csv(pool_csv)
    # Only paths go to the model; true_label stays in `rows` for diagnostics.
    X = features.lookup(pool_npz, [r["path"] for r in rows])
    for seed, (out_csv, out_json) in outputs.items():
        head, classes = heads.load_head(heads_pt[seed])
        probs = heads.predict_proba(head, X)
        idx, labels = pseudo.select(probs, cfg.pseudo_label.threshold)
        accepted = [{"path": rows[i]["path"], "label": classes[k], "confidence": float(probs[i].max())}
                    for i, k in zip(idx, labels)]
        manifests.write_csv(out_csv, accepted, ["path", "label", "confidence"])
        diag = pseudo.diagnostics(idx, labels, [r["true_label"] for r in rows],
                                  [int(r["in_domain"]) for r in rows], classes)
        write_json({"threshold": cfg.pseudo_label.threshold, "source_model": heads_pt[seed], **diag},
                   out_json)


def train_adapted(cfg: Study, source_csv: str, source_npz: str, pool_npz: str, test_csv: str,
                  test_npz: str, pseudo: dict[int, tuple[str, str]], out_dirs: dict[int, str]) -> None:
    """Per seed, a fresh head on synthetic train + that seed's accepted pseudo-labels.

    `pseudo`: seed -> (accepted.csv, diagnostics.json).
    """
    rows = manifests.read_csv(source_csv)
    size = cfg.pseudo_label.source_size
    Xs, ys = _labeled(cfg, manifests.source_subset(rows, size, "train"), source_npz)
    val = _labeled(cfg, manifests.source_subset(rows, size, "val"), source_npz)
    test = _labeled(cfg, manifests.read_csv(test_csv), test_npz)
    for seed, out_dir in out_dirs.items():
        accepted_csv, diag_json = pseudo[seed]
        accepted = manifests.read_csv(accepted_csv)
        if not accepted:
            raise DataError(
                f"no pool image passed pseudo_label.threshold={cfg.pseudo_label.threshold} "
                f"({accepted_csv}); lower the threshold"
            )
        Xp, yp = _labeled(cfg, accepted, pool_npz)
        X, y = np.concatenate([Xs, Xp]), np.concatenate([ys, yp])
        _fit_and_score(cfg, seed, X, y, {"train": (X, y), "val": val, "test": test}, Path(out_dir),
                       variant="pseudo-label", pseudo_label=read_json(diag_json))


# --------------------------------------------------------------- report ----


def summarize(cfg: Study, metrics: dict[str, list[str]], out_json: str, out_provenance: str) -> None:
    """`metrics`: variant -> per-seed metrics.json paths."""
    from synth2real import summary

    loaded = {v: [read_json(p) for p in paths] for v, paths in metrics.items()}
    write_json(summary.build(cfg, loaded), out_json)
    provenance.write(out_provenance, cfg)


def table_results(cfg: Study, summary_json: str, out_csv: str, out_md: str, out_tex: str) -> None:
    from synth2real import tables

    tables.write_all(read_json(summary_json), out_csv, out_md, out_tex)


def figure(cfg: Study, name: str, summary_json: str, *out: str) -> None:
    """Render figure module `synth2real.figures.<name>` from the summary."""
    import importlib

    importlib.import_module(f"synth2real.figures.{name}").make(read_json(summary_json), *out)
