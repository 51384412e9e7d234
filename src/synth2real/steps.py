"""One function per workflow step; the Snakemake rules are thin wrappers over these.

Every function takes the validated `Study` plus explicit input/output paths, so
each step also runs (and is tested) without Snakemake.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from synth2real import provenance
from synth2real.adapt import pseudo
from synth2real.config import Study
from synth2real.data import manifests, sources
from synth2real.errors import DataError
from synth2real.model import features
from synth2real.model import head as heads
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
    from synth2real.model.backbone import export_onnx, load_backbone, ort_session, parity

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
    from synth2real.model.backbone import load_backbone

    paths = [r["path"] for r in manifests.read_csv(manifest_csv)]
    bb = load_backbone(read_json(backbone_json)["path"])
    ex = features.Extractor(bb, cfg.features.engine, backbone_onnx)
    feats, stats = features.extract(paths, ex, cfg.backbone.image_size, cfg.features.batch_size,
                                    cfg.features.parity_tol)
    features.save(out_npz, feats, paths)
    write_json({"engine": cfg.features.engine, **stats}, out_stats)


def features_aligned(cfg: Study, source_csv: str, pool_csv: str, backbone_json: str,
                     backbone_onnx: str, out_npz: str, out_stats: str) -> None:
    """Source features after bringing every source image to the target's resolution."""
    from synth2real.adapt import align
    from synth2real.model.backbone import load_backbone

    measured = align.typical_side([r["path"] for r in manifests.read_csv(pool_csv)])
    side = cfg.methods.align.target_side or int(round(measured["median_side"]))
    log.info("target resolution: median shorter side %.0f px over %d pool images; source -> %d px",
             measured["median_side"], measured["images"], side)
    paths = [r["path"] for r in manifests.read_csv(source_csv)]
    bb = load_backbone(read_json(backbone_json)["path"])
    ex = features.Extractor(bb, cfg.features.engine, backbone_onnx)
    feats, stats = features.extract(paths, ex, cfg.backbone.image_size, cfg.features.batch_size,
                                    cfg.features.parity_tol, align.transform(side))
    features.save(out_npz, feats, paths)
    write_json({"engine": cfg.features.engine, "target_side": side, "pool_resolution": measured,
                **stats}, out_stats)


def features_adabn(cfg: Study, pool_csv: str, test_csv: str, backbone_json: str, out_onnx: str,
                   out_pool_npz: str, out_test_npz: str, out_stats: str) -> None:
    """AdaBN: BN statistics re-estimated on the unlabeled pool, then target features with them.

    The statistics come from `methods.adabn.images` pool images (torch); the
    adapted backbone is exported to ONNX, parity-checked, and extracts the
    pool and the real test set (the one extra feature pass).
    """
    from synth2real.adapt import adabn
    from synth2real.model.backbone import export_onnx, load_backbone

    a = cfg.methods.adabn
    size = cfg.backbone.image_size
    pool_paths = [r["path"] for r in manifests.read_csv(pool_csv)]
    rng = np.random.default_rng(cfg.data_seed)
    fit_paths = [pool_paths[i] for i in np.sort(rng.permutation(len(pool_paths))[: a.images])]
    bb = load_backbone(read_json(backbone_json)["path"])
    adapted, bn_stats = adabn.adapt(bb, features.batches(fit_paths, size, a.batch_size))
    log.info("AdaBN: %d BatchNorm layers re-estimated on %d pool images (mean |shift| %.4f)",
             int(bn_stats["bn_layers"]), int(bn_stats["images"]), bn_stats["mean_abs_mean_shift"])
    export_onnx(adapted, out_onnx, size, "features", opset=cfg.export.opset)
    ex = features.Extractor(adapted, cfg.features.engine, out_onnx)
    stats: dict[str, object] = {"engine": cfg.features.engine, "adabn": bn_stats}
    for csv_path, out_npz, name in ((pool_csv, out_pool_npz, "pool"), (test_csv, out_test_npz, "real_test")):
        paths = [r["path"] for r in manifests.read_csv(csv_path)]
        feats, st = features.extract(paths, ex, size, cfg.features.batch_size, cfg.features.parity_tol)
        features.save(out_npz, feats, paths)
        stats[name] = st
    write_json(stats, out_stats)


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


def train_method(cfg: Study, variant: str, source_csv: str, source_npz: str, pool_csv: str,
                 pool_npz: str, test_csv: str, test_npz: str, out_dirs: dict[int, str]) -> None:
    """Every seed of one method variant of issue 5 (`methods.spec_of(cfg, variant)`).

    The feature files are the ones the spec names (`Spec.files`); the
    proxy A-distance between source-train and pool representations is
    measured per seed for DANN (its bottleneck is learned) and once otherwise
    (the frozen features do not depend on the seed).
    """
    import torch

    from synth2real.adapt import variants as methods
    from synth2real.analysis import domain

    spec = methods.spec_of(cfg, variant)
    rows = manifests.read_csv(source_csv)
    size = cfg.pseudo_label.source_size
    pool = manifests.read_csv(pool_csv)  # true_label / in_domain: diagnostics only
    data = methods.Data(
        train=_labeled(cfg, manifests.source_subset(rows, size, "train"), source_npz),
        val=_labeled(cfg, manifests.source_subset(rows, size, "val"), source_npz),
        pool=features.lookup(pool_npz, [r["path"] for r in pool]),
        pool_true=[r["true_label"] for r in pool],
        pool_in_domain=[int(r["in_domain"]) for r in pool],
        test=_labeled(cfg, manifests.read_csv(test_csv), test_npz),
    )
    n = cfg.methods.domain_sample
    fixed_pad = None
    for seed, out_dir in out_dirs.items():
        res = methods.run(spec, data, cfg, seed)
        if spec.trainer == "dann" or fixed_pad is None:
            pad = domain.proxy_a_distance(methods.representation(res, data.train[0]),
                                          methods.representation(res, data.pool), n, cfg.data_seed)
            fixed_pad = pad if spec.trainer != "dann" else None
        else:
            pad = fixed_pad
        metrics: dict[str, object] = {"seed": seed, "variant": variant, "n_train": len(res.train_set[1]),
                                      "method": spec.params(), "proxy_a_distance": pad, **res.extra}
        for name, (Xe, ye) in {"train": res.train_set, "val": data.val, "test": data.test}.items():
            metrics[name] = heads.scores(ye, methods.softmax(methods.logits_of(res.model, Xe)),
                                         cfg.classes)
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        torch.save({"kind": spec.trainer, "state_dict": res.model.state_dict(),
                    "classes": list(cfg.classes), "spec": spec.params()}, out / "head.pt")
        write_json(metrics, out / "metrics.json")
        provenance.write(out / "provenance.json", cfg, seed=seed, variant=variant)
        log.info("%s seed %d: val %.4f test %.4f PAD %.3f", variant, seed, metrics["val"]["acc"],
                 metrics["test"]["acc"], pad)


def domain_embedding(cfg: Study, pairs: dict[str, tuple[str, str]], dann_head: str | None,
                     source_csv: str, out_npz: str) -> None:
    """2-D t-SNE of source-train vs pool features per representation; `pairs`: label -> (source, pool) npz.

    With `dann_head`, one more panel: the DANN bottleneck of that model on the plain features.
    """
    import torch

    from synth2real.adapt import dann
    from synth2real.analysis import domain

    rows = manifests.source_subset(manifests.read_csv(source_csv), cfg.pseudo_label.source_size, "train")
    paths = [r["path"] for r in rows]
    panels: dict[str, np.ndarray] = {}
    n = cfg.methods.domain_sample // 2
    reps = {}
    for label, (src_npz, pool_npz) in pairs.items():
        reps[label] = (features.lookup(src_npz, paths), features.load(pool_npz)[0])
    if dann_head:
        blob = torch.load(dann_head, map_location="cpu", weights_only=True)
        d = cfg.methods.dann
        in_dim = blob["state_dict"]["bottleneck.0.weight"].shape[1]
        net = dann.DannNet(len(blob["classes"]), in_dim, d.bottleneck, d.hidden, cfg.train.dropout)
        net.load_state_dict(blob["state_dict"])
        S, T = reps["before (frozen features)"]
        reps["after: DANN bottleneck (seed %d)" % cfg.seeds[0]] = (dann.embed(net, S), dann.embed(net, T))
    labels = list(reps)
    for i, label in enumerate(labels):
        S, T = reps[label]
        pts, dom = domain.tsne_2d(S, T, n, cfg.data_seed)
        panels[f"points_{i}"], panels[f"domain_{i}"] = pts, dom
        panels[f"pad_{i}"] = np.float64(domain.proxy_a_distance(S, T, cfg.methods.domain_sample,
                                                                cfg.data_seed))
        log.info("t-SNE panel %r: %d points", label, len(pts))
    Path(out_npz).parent.mkdir(parents=True, exist_ok=True)
    np.savez(out_npz, labels=np.asarray(labels), **panels)


# --------------------------------------------------------------- report ----


def summarize(cfg: Study, metrics: dict[str, list[str]], out_json: str, out_provenance: str) -> None:
    """`metrics`: variant -> per-seed metrics.json paths."""
    from synth2real.analysis import summary

    loaded = {v: [read_json(p) for p in paths] for v, paths in metrics.items()}
    write_json(summary.build(cfg, loaded), out_json)
    provenance.write(out_provenance, cfg)


def table_results(cfg: Study, summary_json: str, out_csv: str, out_md: str, out_tex: str) -> None:
    from synth2real.report import tables

    tables.write_all(read_json(summary_json), out_csv, out_md, out_tex)


def table_methods(cfg: Study, summary_json: str, out_csv: str, out_md: str, out_tex: str) -> None:
    from synth2real.report import methods_table

    methods_table.write_all(read_json(summary_json), out_csv, out_md, out_tex)


def figure_domain_gap(cfg: Study, tsne_npz: str, *out: str) -> None:
    from synth2real.report.figures import domain_gap

    domain_gap.make(tsne_npz, *out)


def figure(cfg: Study, name: str, summary_json: str, *out: str) -> None:
    """Render figure module `synth2real.report.figures.<name>` from the summary."""
    import importlib

    importlib.import_module(f"synth2real.report.figures.{name}").make(read_json(summary_json), *out)
