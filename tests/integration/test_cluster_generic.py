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

from tests.conftest import job_counts, run_snakemake, tiny_config, write_config

SUBMIT = Path(__file__).with_name("local_submit.sh")


def test_tiny_workflow_through_cluster_generic(tiny_bundle, tmp_path, monkeypatch):
    workdir = tmp_path / "run"
    workdir.mkdir()
    record = tmp_path / "submitted"
    record.mkdir()
    monkeypatch.setenv("SUBMIT_RECORD_DIR", str(record))
    cfg = write_config(tiny_config(), tmp_path / "tiny.yaml")
    # Every job the workflow plans (except the local `all`) must go out as a submission.
    planned = job_counts(run_snakemake(workdir, cfg, "-n", bundle=tiny_bundle))
    planned.pop("all")
    planned.pop("total")
    assert {"features", "train_baseline", "paper"} <= set(planned)
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
    # Each job went out as its own submission (e.g. 3 feature sets, 2 sizes).
    assert {r: rules.count(r) for r in set(rules)} == planned
    assert rules.count("features") == 3 and rules.count("train_baseline") == 2

    summary = json.loads((workdir / "results" / "summary.json").read_text())
    assert summary["offline"] and list(summary["variants"])[:3] == ["synthetic-10", "synthetic-20",
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
