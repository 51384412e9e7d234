"""Rule paper_inputs: everything the paper quotes, generated from the finished run.

Reads the summary, the run's provenance (resolved config, commit, versions,
hardware), the manifests (image counts), the benchmark files (run times) and, in a run
with the labeled-budget track, its results/budgets.json,
and writes the macros (`numbers`) and the three small tables of `paper_tables`.
The settings come from the config recorded in the provenance, so the paper
describes the run that produced its numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

from synth2real.data import manifests
from synth2real.report import paper_tables
from synth2real.report.numbers import numbers as macros
from synth2real.report.numbers import numbers_tex, offline_notice
from synth2real.report.numbers.budgets import budget_numbers
from synth2real.report.text import write_texts
from synth2real.store import read_json

log = logging.getLogger(__name__)


def manifest_counts(source_csv: str, test_csv: str, pool_csv: str, target_csv: str,
                    sizes: Iterable[int]) -> dict[str, int]:
    """Image counts the paper quotes, counted in the manifests the run actually used."""
    src = manifests.read_csv(source_csv)
    out: dict[str, int] = {}
    for size in sizes:
        for split in ("train", "val"):
            out[f"synthetic-{size}/{split}"] = len(manifests.source_subset(src, size, split))
    pool = manifests.read_csv(pool_csv)
    out["test"] = len(manifests.read_csv(test_csv))
    out["pool"] = len(pool)
    out["pool/ood"] = sum(1 for r in pool if r["in_domain"] == "0")
    target = manifests.read_csv(target_csv)
    out["target-val"] = sum(1 for r in target if r["split"] == "val")
    out["oracle"] = len(target) - out["target-val"]
    return out


def command_line(configfiles: Sequence[str], bundle: str | None, repo: Path) -> str:
    """The reviewer's command that reproduces this run (config path relative to the repo)."""
    def rel(p: str) -> str:
        try:
            return str(Path(p).resolve().relative_to(repo.resolve()))
        except ValueError:
            return str(p)

    cmd = "make reproduce"
    if configfiles:
        cmd += f" CONFIG={rel(configfiles[-1])}"
    if bundle:
        cmd += " BUNDLE=<bundle>"
    return cmd


def write(summary: str, provenance: str, source: str, real_test: str, pool: str,
          target_labeled: str, numbers: str, reported: str, setup: str, runtimes: str, *,
          benchmarks: dict[str, list[str]], configfiles: list[str], repo: str,
          budgets: str | None = None) -> None:
    """numbers.tex, reported_vs_reproduced.tex, setup.tex and runtimes.tex of one run.

    `benchmarks`: pipeline stage -> its jobs' benchmark files; `configfiles`: the
    run's config files (the last one names the config in the reproduce command);
    `repo`: the checkout, which that config path is made relative to; `budgets`: the
    labeled-budget track's results/budgets.json, for a run with the track (its macros and
    `\\budgetstrue`; without it the paper leaves the track's section out).
    """
    results, prov = read_json(summary), read_json(provenance)
    cfg = prov["config"]
    secs = paper_tables.stage_seconds(benchmarks)
    counts = manifest_counts(source, real_test, pool, target_labeled,
                             sizes=cfg["synthetic"]["sizes"])
    n = macros(results, prov, secs, counts,
               command_line(configfiles, cfg.get("bundle"), Path(repo)))
    if budgets is not None:
        n.update(budget_numbers(read_json(budgets)))
    write_texts({
        numbers: numbers_tex(n, bool(results["offline"]), offline_notice(cfg),
                             budgets=budgets is not None),
        reported: paper_tables.reported_vs_reproduced_tex(results),
        setup: paper_tables.setup_tex(cfg),
        runtimes: paper_tables.runtimes_tex(secs),
    })
    log.info("paper inputs: %d numbers, %d timed stages, offline=%s", len(n), len(secs),
             results["offline"])
