"""Every job is self-contained: the tiny offline workflow through the cluster-generic executor.

A local submit script starts each job as a separate process (as sbatch would on
a cluster), so a job that relied on state in the main Snakemake process, or on
an undeclared input, would fail here. The run ends with the paper PDF and
the `snakemake --report` HTML report with captioned figures.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from tests.conftest import run_snakemake, tiny_config, write_config

SUBMIT = Path(__file__).with_name("local_submit.sh")
# Every rule of the offline workflow that does work (i.e. not `all`).
EXPECTED_RULES = {"source_manifest", "real_manifests", "backbone", "features", "train_baseline",
                  "pseudo_label", "train_adapted", "summary", "table_results", "figure",
                  "figure_sample_grid", "paper_numbers", "paper"}


def test_tiny_workflow_through_cluster_generic(tiny_bundle, tmp_path, monkeypatch):
    workdir = tmp_path / "run"
    workdir.mkdir()
    record = tmp_path / "submitted"
    record.mkdir()
    monkeypatch.setenv("SUBMIT_RECORD_DIR", str(record))
    cfg = write_config(tiny_config(), tmp_path / "tiny.yaml")
    run_snakemake(workdir, cfg, "--executor", "cluster-generic",
                  "--cluster-generic-submit-cmd", str(SUBMIT), "--jobs", "2",
                  "--latency-wait", "10", "--show-failed-logs", bundle=tiny_bundle)

    jobs = sorted(record.glob("job-*.sh"))
    pids = {int(p.stem.split("-")[1]) for p in jobs}
    assert len(pids) == len(jobs) and os.getpid() not in pids
    rules = []
    for script in jobs:
        props = re.search(r"^# properties = (.*)$", script.read_text(), flags=re.MULTILINE)
        rules.append(json.loads(props[1])["rule"])
    # Each rule went out as separate submissions, one per job (3 feature sets, 2 sizes, 4 figures).
    assert set(rules) == EXPECTED_RULES
    assert rules.count("features") == 3 and rules.count("train_baseline") == 2
    assert rules.count("figure") == 3

    summary = json.loads((workdir / "results" / "summary.json").read_text())
    assert summary["offline"] and list(summary["variants"]) == ["synthetic-10", "synthetic-20",
                                                                "pseudo-label"]
    pdf = workdir / "paper" / "main.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert "Output written on build/main.pdf" in (workdir / "paper" / "build" / "main.log").read_text()
    numbers = (workdir / "paper" / "tables" / "numbers.tex").read_text()
    assert r"\offlinetrue" in numbers and "acc/synthetic-20/test/mean" in numbers
    assert "time/features" in numbers  # run times came from this run's benchmark files

    # The HTML report of the same run: every figure with its caption.
    report = workdir / "report.html"
    run_snakemake(workdir, cfg, "--report", str(report), bundle=tiny_bundle)
    html = report.read_text()
    for caption in ("Pseudo-label diagnostics", "Real-test confusion matrix",
                    "beside the", "Offline run"):
        assert caption in html, caption
