"""`make bench` [2]: the offline study's time beside its floor, and the cost of one model.

Floor: the backbone passes alone, i.e. every image the workflow extracts features
of (source, pool, real test, labeled target; the aligned source and the AdaBN
target sets when a variant uses them, plus AdaBN's statistics pass, and one source pass per
pixel-level part) at the onnxruntime rate measured in [1] on preprocessed batches (no decoding).

Study: everything the workflow does after the features, for every training job
of the config (`Study.training_jobs`: every variant, all seeds): the real stage
function, scoring and model-selection criteria and the files it writes included,
run one job after another here, on features of the study's shapes (Gaussian
classes, the real pool shifted: the trainers' cost depends on the shapes and on
how many pool images get pseudo-labels, not on the values), plus one measured
process start per job. Not covered: the snakemake scheduler, the pixel-level refiners'
training (its time is in each run's results/pixel/<part>/stats.json), ONNX export and the
report stages.

Per model: the core-seconds of the one training loop (`stacked.fit`) for one
model of each kind, trained as the study trains them (a variant's seeds
together), beside that model's arithmetic floor: its matmul FLOPs at the batched
matmul rate measured in this run, or the bytes its minibatches move at the copy
rate measured in this run, whichever is larger.
"""

from __future__ import annotations

import math
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from synth2real.adapt import engine, objectives
from synth2real.config import Mcc, Study
from synth2real.config.pixel import PIXEL_LABELS
from synth2real.data import budgets
from synth2real.data.imagesets import ImageSet, save_features
from synth2real.data.manifests import (
    POOL_FIELDS,
    SOURCE_FIELDS,
    TARGET_FIELDS,
    TEST_FIELDS,
    list_class_images,
    read_csv,
    write_csv,
)
from synth2real.model import stacked
from synth2real.model.head import BLOCK_IN
from synth2real.store import write_json

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
    pixel: int = 0  # pixel-level parts: one more pass over the (refined) source each

    def floor_images(self, n_classes: int) -> int:
        target = n_classes * (self.target_val + self.oracle)
        plain = self.source + self.pool + self.test + target
        return plain + self.source * (self.aligned + self.pixel) + (self.pool + self.test + target + self.adabn) * (
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
    variants = cfg.variants.values()
    return Counts(source=c * cfg.max_size, pool=real.pool_size, test=c * real.test_per_class,
                  target_val=real.target_val_per_class, oracle=oracle,
                  aligned=any(v.source.features == "aligned" for v in variants),
                  adabn=cfg.methods.adabn.images * any(v.target == "adabn" for v in variants),
                  pixel=len({v.source.pixel for v in cfg.trained.values()} - {"none"}))


def write_inputs(root: Path, cfg: Study, n: Counts, seed: int = 0) -> dict[str, dict[str, ImageSet]]:
    """Manifests and feature caches (every kind) of the study's shapes: image set -> kind -> set;
    with block models, their block inputs (random, float16), a backbone of random weights
    (`root`/backbone.json) and the budget draws (`root`/target_budgets.csv)."""
    rng = np.random.default_rng(seed)
    classes, c = list(cfg.classes), len(cfg.classes)
    block = any(v.trainable.kind == "last_block" for v in cfg.trained.values())
    positions = (cfg.backbone.image_size // 32) ** 2
    means = rng.normal(0, 1, (c, DIM)).astype(np.float32)
    shift = rng.normal(0, 0.7, DIM).astype(np.float32)  # the real domain's offset
    out: dict[str, dict[str, ImageSet]] = {}

    def write(name: str, labels: np.ndarray, real: bool, rows: list[dict[str, object]],
              fields: Sequence[str]) -> None:
        X = means[labels] + rng.normal(0, 1.2, (len(labels), DIM)).astype(np.float32) + shift * real
        paths = [f"{name}/{i}.png" for i in range(len(labels))]
        for r, p in zip(rows, paths, strict=True):
            r["path"] = p
        write_csv(root / f"{name}.csv", rows, fields)
        out[name] = {}
        # (Every kind for every set: the pixel parts' caches hold source images only, but a
        # stand-in of any kind is read by nobody else.)
        for kind in ("plain", "aligned", "adabn", *PIXEL_LABELS):
            save_features(root / kind / f"{name}.npz", X.astype(np.float32), paths, name, kind)
            out[name][kind] = ImageSet(name, str(root / f"{name}.csv"), str(root / kind / f"{name}.npz"))
        if block:
            B = rng.normal(0, 0.5, (len(labels), positions, BLOCK_IN)).astype(np.float16)
            save_features(root / "block" / f"{name}.npz", B, paths, name, "block")
            out[name]["block"] = ImageSet(name, str(root / f"{name}.csv"),
                                          str(root / "block" / f"{name}.npz"))

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
    write("real_test", y, True, [{"label": classes[k]} for k in y], TEST_FIELDS)
    y = np.repeat(np.arange(c), n.target_val + n.oracle)
    write("target_labeled", y, True, [
        {"label": classes[k], "split": "val" if i % (n.target_val + n.oracle) < n.target_val
         else "oracle"} for i, k in enumerate(y)], TARGET_FIELDS)
    write_csv(root / "target_budgets.csv", budgets.draw(
        read_csv(root / "target_labeled.csv"), classes, cfg.seeds, cfg.data_seed), budgets.FIELDS)
    if block:
        from torchvision.models import mobilenet_v2

        torch.save(mobilenet_v2(weights=None).state_dict(), root / "weights.pth")
        write_json({"path": str(root / "weights.pth")}, root / "backbone.json")
    return out


def jobs(root: Path, cfg: Study, sets: dict[str, dict[str, ImageSet]], draws: Path | None = None,
         backbone: Path | None = None) -> dict[str, Callable[[], None]]:
    """Every training job of the study and its budget track, as the workflow calls its stage
    (the inputs of `Study.job_inputs`), in an order where each job's labelling, shared and
    stage-1 models and ensemble members exist before it runs. `draws`: the budget draws; `backbone`: the
    backbone's info file (jobs of block models)."""
    seeds = list(cfg.seeds)

    def files(variants: Sequence[str], name: str) -> list[str]:
        return [str(root / v / f"seed{s}" / name) for v in variants for s in seeds]

    def call(members: list[str]) -> Callable[[], None]:
        need = cfg.job_inputs(members)
        kinds = cfg.trained[members[0]].feature_kinds
        extra = {}
        if need.draws:
            extra["draws"] = str(draws)
        if need.backbone:
            extra["backbone"] = str(backbone)
        return lambda: engine.train_variants(
            **{s: sets[s][k] for s, k in kinds.items()},
            heads=files(members, "head.pt"), metrics=files(members, "metrics.json"),
            provenance=files(members, "provenance.json"),
            accepted=files(members, "pseudo_labels.csv"),
            variants={v: cfg.trained[v] for v in members}, train=cfg.train,
            domain_sample=0 if need.budget_track else cfg.methods.domain_sample,
            data_seed=cfg.data_seed, classes=list(cfg.classes), seeds=seeds,
            labellers=need.labellers, labelling_models=files(list(need.labellers.values()), "head.pt"),
            shares=need.shares, shared_models=files(list(need.shares.values()), "head.pt"),
            starts=need.starts, start_models=files(list(need.starts.values()), "head.pt"),
            ensembles=need.ensembles,
            ensemble_models=files([m for ms in need.ensembles.values() for m in ms], "head.pt"),
            **extra)

    todo, out, done = dict(cfg.training_jobs()), {}, set()
    while todo:
        ready = [j for j, members in todo.items()
                 if all(set(cfg.job_inputs([v]).upstream) <= done for v in members)]
        if not ready:
            raise ValueError(f"training jobs {list(todo)} wait for each other")
        for j in ready:
            out[j] = call(todo.pop(j))
            done |= set(cfg.training_jobs()[j])
    return out


def process_start(repeats: int = 3) -> float:
    """Seconds to start Python and import the training stage (what each job pays first): the
    median of `repeats` starts, as jobs that follow each other find torch's libraries cached
    (a first start after the page cache was emptied can take 20 s)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import synth2real.adapt.engine, synth2real.smk"],
                       check=True)
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


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


@dataclass(frozen=True)
class ModelCost:
    """One model's training loop: measured core-seconds and its floor (see the module doc)."""

    kind: str
    seconds: float
    flops: float
    bytes: float
    flop_rate: float  # FLOP/s of a batched matmul of the study's shapes, this run
    byte_rate: float  # bytes/s of a large tensor copy, this run

    @property
    def floor_s(self) -> float:
        return max(self.flops / self.flop_rate, self.bytes / self.byte_rate)


def report(t: StudyTime, costs: Sequence[ModelCost] = (), quick: bool = False) -> list[str]:
    """The lines `make bench` prints for the study time beside its floor, and per model."""
    what = "quick: 3 jobs, not the study" if quick else f"all {t.jobs} training jobs"
    lines = [
        (f"  floor: backbone passes  {t.floor_s:8.1f} s ({t.floor_images} images at "
         f"{t.ort_ips:.1f} images/s, onnxruntime)"),
        f"  training jobs           {t.train_s:8.1f} s ({what}, one after another, 1 thread each)",
        f"  process starts          {t.jobs * t.start_s:8.1f} s ({t.jobs} x {t.start_s:.2f} s)",
        f"  study (sum)             {t.study_s:8.1f} s",
        f"  ratio study / floor     {t.ratio:8.2f}x",
    ]
    for c in costs:
        lines.append(f"  one {c.kind:14s}     {c.seconds:8.3f} core-s per model (floor "
                     f"{c.floor_s:.3f} s: {c.flops / 1e9:.1f} GFLOP at {c.flop_rate / 1e9:.0f} "
                     f"GFLOP/s, {c.bytes / 1e9:.1f} GB at {c.byte_rate / 1e9:.0f} GB/s) "
                     f"= {c.seconds / c.floor_s:.1f}x the floor")
    return lines


def rates() -> tuple[float, float]:
    """(FLOP/s of a batched bottleneck matmul, bytes/s of a tensor copy), one thread, now."""
    x, w = torch.randn(5, 64, DIM), torch.randn(5, DIM, 256)
    big = torch.randn(16 * 2**20)
    out = torch.empty_like(big)
    for _ in range(3):
        torch.bmm(x, w), out.copy_(big)
    t0 = time.perf_counter()
    for _ in range(20):
        torch.bmm(x, w)
    flop_rate = 20 * 2 * x.numel() * 256 / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for _ in range(20):
        out.copy_(big)
    return flop_rate, 20 * 2 * big.numel() * 4 / (time.perf_counter() - t0)


def model_costs(cfg: Study, seeds: Sequence[int], n_train: int, n_pool: int) -> list[ModelCost]:
    """The training loop's core-seconds per model: the study's head and an MCC bottleneck net,
    `len(seeds)` of each trained together on study-shaped features."""
    rng = np.random.default_rng(0)
    table = torch.from_numpy(rng.normal(size=(n_train + n_pool, DIM)).astype(np.float32))
    members = stacked.Members(np.arange(n_train), rng.integers(0, len(cfg.classes), n_train))
    t, m = cfg.train, len(seeds)
    steps = t.epochs * math.ceil(n_train / t.batch_size)
    flop_rate, byte_rate = rates()
    t0 = time.perf_counter()
    engine.fit_heads(table, len(cfg.classes), [members] * m,
                     [stacked.shuffled(n_train, t.batch_size)] * m, seeds, t)
    head_s = (time.perf_counter() - t0) / m
    c = len(cfg.classes)
    # Per example and epoch: forward and weight gradient (2 x 2 D C FLOP); the features
    # gathered, masked, read forward and backward (4 x 4 bytes per element) and 2 random bytes.
    head = ModelCost("linear head", head_s, t.epochs * n_train * 4 * DIM * c,
                     t.epochs * n_train * DIM * 18, flop_rate, byte_rate)
    mcc = Mcc()
    t0 = time.perf_counter()
    objectives.train_objective(mcc, members, n_train + np.arange(n_pool), table, c, t, seeds)
    net_s = (time.perf_counter() - t0) / m
    params = DIM * mcc.bottleneck + mcc.bottleneck * c
    # Source and pool rows through the bottleneck, forward and weight gradient; Adam reads
    # and writes parameter, gradient and both moments (28 bytes per parameter) every step.
    net = ModelCost("bottleneck net", net_s, t.epochs * 2 * n_train * 4 * DIM * mcc.bottleneck,
                    steps * params * 28 + t.epochs * 2 * n_train * DIM * 8, flop_rate, byte_rate)
    return [head, net]


def measure(cfg: Study, ort_ips: float, tmp: Path,
            quick: bool = False) -> tuple[StudyTime, dict[str, float], list[ModelCost]]:
    """Run the study's training jobs on inputs of its shapes; seconds per job as well."""
    n = counts(cfg)
    if n.oracle == 0:  # the bundle leaves no labeled photo for an oracle: the study has none
        cfg = cfg.model_copy(update={"real": cfg.real.model_copy(update={"oracle_per_class": 0})})
    sets = write_inputs(tmp / "inputs", cfg, n)
    todo = jobs(tmp / "heads", cfg, sets, tmp / "inputs" / "target_budgets.csv",
                tmp / "inputs" / "backbone.json")
    if quick:  # the pseudo-label job needs its labelling models first
        todo = dict(list(todo.items())[:2])
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as the workflow runs a training job (no `threads:`)
    per_job = {}
    try:
        for name, run in todo.items():
            t0 = time.perf_counter()
            run()
            per_job[name] = time.perf_counter() - t0
        n_train = len(cfg.classes) * round(cfg.max_size * (1 - cfg.synthetic.val_fraction))
        costs = model_costs(cfg, list(cfg.seeds)[:2] if quick else cfg.seeds, n_train, n.pool)
    finally:
        torch.set_num_threads(before)
    return (StudyTime(n.floor_images(len(cfg.classes)), ort_ips, sum(per_job.values()), len(todo),
                      process_start()), per_job, costs)
