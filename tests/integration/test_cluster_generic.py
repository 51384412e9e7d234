"""Every job is self-contained: jobs of the tiny run redone through the cluster-generic executor.

A local submit script starts each job as a separate process (as sbatch would on
a cluster), so a job that relied on state in the main Snakemake process, or on
an undeclared input of a job running beside it, would fail here. The session's
tiny run is copied and a slice of it forced to run again: a baseline head, a
method variant, and everything downstream of them (the summary, every table
and figure, the paper numbers and the paper), rather than the whole workflow
a second time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from tests.conftest import REPO, job_counts, run_snakemake

SUBMIT = Path(__file__).with_name("local_submit.sh")
# Forced targets: a baseline training job, a method-variant training job, the paper.
FORCED = ("results/heads/synthetic-10/seed0/head.pt", "results/heads/dann/seed0/head.pt",
          "paper/main.pdf")


def test_jobs_run_as_separate_submissions_through_cluster_generic(tiny_run, tiny_bundle, tmp_path,
                                                                 monkeypatch):
    # A copy keeps the tiny run's file times and Snakemake records; the config file is the
    # run's own, so no rule's params change with the folder.
    workdir = tmp_path / "run"
    shutil.copytree(tiny_run, workdir, symlinks=True, ignore=shutil.ignore_patterns("reports"))
    cfg = tiny_run / "tiny.yaml"
    record = tmp_path / "submitted"
    record.mkdir()
    monkeypatch.setenv("SUBMIT_RECORD_DIR", str(record))
    before = json.loads((workdir / "results" / "summary.json").read_text())
    (workdir / "paper" / "main.pdf").unlink(missing_ok=True)

    # Every job the forced run plans must go out as a submission.
    planned = job_counts(run_snakemake(workdir, cfg, "-n", "--force", "--", *FORCED,
                                       bundle=tiny_bundle))
    planned.pop("total")
    assert {"train_heads_plain_plain", "train_dann_plain_plain", "summary", "table", "figure",
            "paper"} <= set(planned)
    assert planned["train_heads_plain_plain"] == planned["train_dann_plain_plain"] == 1
    assert not {"features", "backbone", "export_onnx"} & set(planned)  # nothing upstream reruns
    run_snakemake(workdir, cfg, "--executor", "cluster-generic",
                  "--cluster-generic-submit-cmd", str(SUBMIT), "--jobs", "2",
                  "--latency-wait", "10", "--force", "--", *FORCED, bundle=tiny_bundle)

    jobs = sorted(record.glob("job-*.sh"))
    pids = {int(p.stem.split("-")[1]) for p in jobs}
    assert len(pids) == len(jobs) and os.getpid() not in pids
    rules = []
    for script in jobs:
        props = re.search(r"^# properties = (.*)$", script.read_text(), flags=re.MULTILINE)
        rules.append(json.loads(props[1])["rule"])
    # Each job went out as its own submission (e.g. 5 figures, 4 tables), except the
    # Snakefile's `localrules` (the LaTeX build here), which run in Snakemake's own process.
    local = set(re.findall(r"^    (\w+),", (REPO / "Snakefile").read_text().split("localrules:")[1]
                           .split("\n\n")[0], flags=re.MULTILINE))
    assert "paper" in local
    assert {r: rules.count(r) for r in set(rules)} == {r: n for r, n in planned.items()
                                                       if r not in local}

    # The separate processes reproduce the local run's numbers.
    summary = json.loads((workdir / "results" / "summary.json").read_text())
    assert summary["offline"] and list(summary["variants"]) == list(before["variants"])
    for name, v in summary["variants"].items():
        assert v["test_acc"] == before["variants"][name]["test_acc"], name
    pdf = workdir / "paper" / "main.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert "Output written on build/main.pdf" in (workdir / "paper" / "build" / "main.log").read_text()
    numbers = (workdir / "paper" / "tables" / "numbers.tex").read_text()
    assert r"\offlinetrue" in numbers and "acc/synthetic-20/test/mean" in numbers
    assert "time/features" in numbers  # run times came from this run's benchmark files
