"""`make bench` [2]: the offline study's time beside its floor, measured in one run.

Floor: the backbone passes alone, i.e. every image the workflow extracts features
of (source, pool, real test, labeled target; the aligned source and the AdaBN
target sets when a variant uses them, plus AdaBN's statistics pass) at the
onnxruntime rate measured in [1] on preprocessed batches (no decoding).

Study: everything the workflow does after the features, for every training job
of the config (baselines, oracle, pseudo-labelling, every method variant, all
seeds): the real stage functions, scoring and model-selection criteria and the
files they write included, run one job after another here, on features of the
study's shapes (Gaussian classes, the real pool shifted: the trainers' cost
depends on the shapes and on how many pool images get pseudo-labels, not on
the values), plus one measured process start per job. Not covered: the
snakemake scheduler, ONNX export and the report stages.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from synth2real.adapt.pseudo_label import label_pool, train_adapted
from synth2real.adapt.variants import train_variant
from synth2real.config import Study
from synth2real.data.manifests import (
    POOL_FIELDS,
    SOURCE_FIELDS,
    TARGET_FIELDS,
    TEST_FIELDS,
    list_class_images,
    write_csv,
)
from synth2real.model import features
from synth2real.model.train import train_baseline, train_oracle

DIM = 1280


@dataclass(frozen=True)
class Counts:
    """Images per feature set of the study (the floor's passes) and per manifest."""

    source: int
    pool: int
    test: int
    target_val: int  # per class
    oracle: int  # per class
    aligned: bool
    adabn: int  # AdaBN: images of its statistics pass, 0 when no variant uses it

    def floor_images(self, n_classes: int) -> int:
        target = n_classes * (self.target_val + self.oracle)
        plain = self.source + self.pool + self.test + target
        return plain + self.source * self.aligned + (self.pool + self.test + target + self.adabn) * (
            self.adabn > 0)


def counts(cfg: Study) -> Counts:
    """The study's image counts from its config; the oracle as many as the bundle leaves."""
    c = len(cfg.classes)
    real = cfg.real
    pool_per_class = (real.pool_size - round(real.pool_size * real.ood_fraction)) // c
    oracle = 0
    if real.oracle_per_class != 0:
        left = min(len(list_class_images(Path(real.source.root), k, "real")) for k in cfg.classes)
        left -= real.test_per_class + pool_per_class + real.target_val_per_class
        oracle = max(0, left if real.oracle_per_class is None else min(left, real.oracle_per_class))
    methods = cfg.methods.variants.values()
    return Counts(source=c * cfg.max_size, pool=real.pool_size, test=c * real.test_per_class,
                  target_val=real.target_val_per_class, oracle=oracle,
                  aligned=any(v.source == "aligned" for v in methods),
                  adabn=cfg.methods.adabn.images * any(v.target == "adabn" for v in methods))


def write_inputs(root: Path, cfg: Study, n: Counts, seed: int = 0) -> dict[str, tuple[str, str]]:
    """Manifests and cached features of the study's shapes under `root`: name -> (csv, npz)."""
    rng = np.random.default_rng(seed)
    classes, c = list(cfg.classes), len(cfg.classes)
    means = rng.normal(0, 1, (c, DIM)).astype(np.float32)
    shift = rng.normal(0, 0.7, DIM).astype(np.float32)  # the real domain's offset
    files = {}

    def write(name: str, labels: np.ndarray, real: bool, rows: list[dict[str, object]],
              fields: Sequence[str]) -> None:
        X = means[labels] + rng.normal(0, 1.2, (len(labels), DIM)).astype(np.float32) + shift * real
        paths = [f"{name}/{i}.png" for i in range(len(labels))]
        for r, p in zip(rows, paths, strict=True):
            r["path"] = p
        features.save(root / f"{name}.npz", X.astype(np.float32), paths)
        write_csv(root / f"{name}.csv", rows, fields)
        files[name] = (str(root / f"{name}.csv"), str(root / f"{name}.npz"))

    per = cfg.max_size
    y = np.repeat(np.arange(c), per)
    n_val = round(per * cfg.synthetic.val_fraction)
    write("source", y, False, [{"label": classes[k], "rank": i % per,
                                "split": "val" if i % per >= per - n_val else "train"}
                               for i, k in enumerate(y)], SOURCE_FIELDS)
    y = rng.integers(0, c, n.pool)
    ood = rng.random(n.pool) < cfg.real.ood_fraction
    write("pool", y, True, [{"true_label": classes[k], "in_domain": int(not o)}
                            for k, o in zip(y, ood, strict=True)], POOL_FIELDS)
    y = np.repeat(np.arange(c), n.test // c)
    write("test", y, True, [{"label": classes[k]} for k in y], TEST_FIELDS)
    y = np.repeat(np.arange(c), n.target_val + n.oracle)
    write("target", y, True, [{"label": classes[k], "split": "val" if i % (n.target_val + n.oracle)
                               < n.target_val else "oracle"} for i, k in enumerate(y)], TARGET_FIELDS)
    return files


def jobs(root: Path, cfg: Study, files: dict[str, tuple[str, str]]) -> dict[str, Callable[[], None]]:
    """Every training job of the study, as the workflow calls its stage function."""
    seeds, classes = list(cfg.seeds), list(cfg.classes)
    src, test, pool, target = files["source"], files["test"], files["pool"], files["target"]

    def outs(name: str) -> list[list[str]]:
        return [[str(root / name / f"seed{s}" / f) for s in seeds]
                for f in ("head.pt", "metrics.json", "provenance.json")]

    out: dict[str, Callable[[], None]] = {}
    for size in cfg.synthetic.sizes:
        out[f"synthetic-{size}"] = lambda size=size: train_baseline(
            str(size), *src, *test, *pool, *target, *outs(f"synthetic-{size}"), train=cfg.train,
            classes=classes, seeds=seeds)
    if cfg.oracle_variant:
        out["oracle"] = lambda: train_oracle(*target, *test, *outs("oracle"), train=cfg.train,
                                             classes=classes, seeds=seeds)
    pseudo = [[str(root / "pseudo" / f"seed{s}" / f) for s in seeds]
              for f in ("accepted.csv", "diagnostics.json")]
    source_variant = cfg.pseudo_source_variant

    def pseudo_label() -> None:
        label_pool(outs(source_variant)[0], *pool, *pseudo, pseudo_label=cfg.pseudo_label, seeds=seeds)
        train_adapted(*src, *pool, *test, *target, *pseudo, *outs("pseudo-label"), train=cfg.train,
                      pseudo_label=cfg.pseudo_label, classes=classes, seeds=seeds)
    out["pseudo-label"] = pseudo_label
    for name in cfg.methods.variants:
        out[name] = lambda name=name: train_variant(
            name, *src, *pool, *test, *target, *outs(name),
            spec=cfg.methods.spec(name, cfg.pseudo_label.threshold), train=cfg.train,
            source_size=cfg.pseudo_label.source_size, domain_sample=cfg.methods.domain_sample,
            data_seed=cfg.data_seed, classes=classes, seeds=seeds)
    return out


def process_start() -> float:
    """Seconds to start Python and import the training stages (what each job pays first)."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import synth2real.adapt.variants, synth2real.smk"],
                   check=True)
    return time.perf_counter() - t0


@dataclass(frozen=True)
class StudyTime:
    floor_images: int
    ort_ips: float  # images/s of the backbone passes
    train_s: float  # every training job, one after another
    jobs: int
    start_s: float  # one process start

    @property
    def floor_s(self) -> float:
        return self.floor_images / self.ort_ips

    @property
    def study_s(self) -> float:
        return self.floor_s + self.train_s + self.jobs * self.start_s

    @property
    def ratio(self) -> float:
        return self.study_s / self.floor_s


def report(t: StudyTime, quick: bool = False) -> list[str]:
    """The lines `make bench` prints for the study time beside its floor."""
    what = "quick: 3 jobs, not the study" if quick else f"all {t.jobs} training jobs"
    return [
        (f"  floor: backbone passes  {t.floor_s:8.1f} s ({t.floor_images} images at "
         f"{t.ort_ips:.1f} images/s, onnxruntime)"),
        f"  training jobs           {t.train_s:8.1f} s ({what}, one after another, 1 thread each)",
        f"  process starts          {t.jobs * t.start_s:8.1f} s ({t.jobs} x {t.start_s:.2f} s)",
        f"  study (sum)             {t.study_s:8.1f} s",
        f"  ratio study / floor     {t.ratio:8.2f}x",
    ]


def measure(cfg: Study, ort_ips: float, tmp: Path,
            quick: bool = False) -> tuple[StudyTime, dict[str, float]]:
    """Run the study's training jobs on inputs of its shapes; seconds per job as well."""
    n = counts(cfg)
    files = write_inputs(tmp / "inputs", cfg, n)
    todo = jobs(tmp / "heads", cfg, files)
    if quick:  # the pseudo-label job needs its source baseline first
        todo = {k: todo[k] for k in (cfg.pseudo_source_variant, "pseudo-label", next(iter(
            cfg.methods.variants), "oracle")) if k in todo}
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as the workflow runs a training job (no `threads:`)
    per_job = {}
    try:
        for name, run in todo.items():
            t0 = time.perf_counter()
            run()
            per_job[name] = time.perf_counter() - t0
    finally:
        torch.set_num_threads(before)
    return StudyTime(n.floor_images(len(cfg.classes)), ort_ips, sum(per_job.values()), len(todo),
                     process_start()), per_job
