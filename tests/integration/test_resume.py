"""A workflow interrupted by a real signal resumes with the same command and the same numbers.

The tiny workflow starts in an empty folder exactly as the README runs it
(`snakemake --snakefile ... --directory ... --workflow-profile profiles/local`,
`SYNTH2REAL_GPUS` set as the Makefile sets it) and is stopped twice by a
signal to its whole process group: SIGKILL (power loss, the OOM killer) while
a job is half-written, then SIGINT (Ctrl-C in the terminal) once heads are
being trained. (Not SIGTERM: Snakemake 9's SIGTERM handler takes the scheduler's
lock, which the main thread may be holding, and then hangs for good.) After
each, Snakemake's own `--summary` says which outputs are complete; the next
run must leave those untouched and run exactly the jobs not finished
(half-written outputs included: the profile's `rerun-incomplete`). After a
SIGKILL the next run is `--unlock` first: the dead run's lock stays behind.
The result must equal, number for number, the separate uninterrupted tiny run
from an empty folder (`tiny_run`).
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import time
from base64 import urlsafe_b64decode
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LOCAL_PROFILE, REPO, SNAKEMAKE, job_counts, run_command, smk_env

pytestmark = pytest.mark.timeout(900)

# Keys of summary.json that name the run rather than its results.
NOT_RESULTS = {"git_commit", "config_hash", "created", "timestamp", "path", "source_model"}


def workflow_command(workdir: Path, configfile: Path, bundle: Path) -> list[str]:
    """The README's workflow command (the Makefile's SMK) on `workdir`, two cores."""
    return [str(SNAKEMAKE), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
            "--workflow-profile", str(LOCAL_PROFILE), "--cores", "2",
            "--configfile", str(configfile), "--config", f"bundle={bundle}"]


def marked_incomplete(workdir: Path) -> set[str]:
    """Outputs of the jobs Snakemake started and did not see finish: it marks each running
    job's outputs under .snakemake/incomplete (file name: the path, urlsafe base64, split
    into `@`-prefixed folders when long) until the job ends. `--summary` does not show these."""
    marks = workdir / ".snakemake" / "incomplete"
    if not marks.is_dir():
        return set()
    names = ["".join(part.removeprefix("@") for part in p.relative_to(marks).parts)
             for p in marks.rglob("*") if p.is_file() and p.name != "migration_underway"]
    return {urlsafe_b64decode(name).decode() for name in names}


def jobs_in_flight(workdir: Path) -> bool:
    return bool(marked_incomplete(workdir))


def interrupt(cmd: list[str], workdir: Path, log: Path, sig: signal.Signals,
              ready: Callable[[Path, str], bool]) -> str:
    """Start `cmd` in its own process group; once `ready(workdir, output so far)` holds while
    a job is running, send `sig` to the whole group. Returns the workflow's output."""
    with log.open("w") as out:
        # A shell starts background jobs (`make test &`, CI) with SIGINT ignored, and an
        # ignored signal stays ignored across exec: Snakemake would never see Ctrl-C.
        # A handled one is reset to the default in the child.
        ignored = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=smk_env(),
                                    start_new_session=True)
        finally:
            signal.signal(signal.SIGINT, ignored)
        try:
            deadline = time.monotonic() + 600
            while not (ready(workdir, log.read_text()) and jobs_in_flight(workdir)):
                assert proc.poll() is None, "the workflow ended before the interruption:\n" \
                                            f"{log.read_text()[-4000:]}"
                assert time.monotonic() < deadline, "never ready to interrupt within 10 minutes"
                time.sleep(0.02)
            os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                pytest.fail(f"the workflow still runs 120 s after {sig.name}:\n"
                            f"{log.read_text()[-3000:]}")
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    # The whole group (job processes too) is gone before anything is inspected.
    for _ in range(600):
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode != 0, "the interrupted workflow reported success"
    return log.read_text()


def adabn_half_written(workdir: Path, output: str) -> bool:
    """The AdaBN feature job has written its backbone but not yet its last output."""
    return (workdir / "results" / "backbone" / "adabn.onnx").is_file() \
        and not (workdir / "results" / "features" / "adabn" / "stats.json").is_file()


def a_head_finished(workdir: Path, output: str) -> bool:
    """Features are cached and Snakemake has reported a training job finished."""
    return (workdir / "results" / "features" / "plain" / "source.npz").is_file() \
        and re.search(r"Finished jobid: \d+ \(Rule: train_", output) is not None


def workflow_summary(cmd: list[str]) -> list[dict[str, str]]:
    """Snakemake's `--summary`: per output file its rule, log (recorded when its job finished),
    whether it exists (status) and whether the command would make it again (plan)."""
    proc = run_command([*cmd, "--summary"], env=smk_env())
    assert proc.returncode == 0, proc.stderr[-4000:]
    lines = proc.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("output_file\t"))
    header = lines[start].split("\t")
    return [dict(zip(header, line.split("\t"), strict=True)) for line in lines[start + 1:] if line]


@dataclass
class Interruption:
    """The state a signal left: Snakemake's summary, and the mtimes of what was complete."""

    signal: str
    output: str
    files: list[dict[str, str]]
    incomplete: set[str]
    before: dict[str, int] = field(default_factory=dict)

    @property
    def complete(self) -> set[str]:
        return {f["output_file"] for f in self.files if f["status"] == "ok"
                and f["plan"] == "no update" and f["output_file"] not in self.incomplete}

    @property
    def left_over(self) -> set[str]:
        """Outputs the stopped jobs left on disk, which the command must redo."""
        return {f["output_file"] for f in self.files if f["status"] == "ok"} - self.complete

    def complete_jobs(self) -> Counter:
        """Finished jobs per rule: each job records its own log file."""
        return Counter(rule for rule, _ in {(f["rule"], f["log-file(s)"]) for f in self.files
                                            if f["output_file"] in self.complete})


def planned_jobs(output: str) -> dict[str, int]:
    """The 'Job stats' a run prints before it starts, without the `all` and total lines."""
    counts = job_counts(subprocess.CompletedProcess([], 0, output, ""))
    return {rule: n for rule, n in counts.items() if rule not in ("all", "total")}


def mtimes(workdir: Path, names: set[str]) -> dict[str, int]:
    return {n: (workdir / n).stat().st_mtime_ns for n in names if (workdir / n).exists()}


def results_of(obj: Any, path: str = "") -> dict[str, str]:
    """Every leaf of a JSON document by its path (NaN as 'nan'), run-naming keys left out."""
    if isinstance(obj, dict):
        return {k: v for key, value in obj.items() if key not in NOT_RESULTS
                for k, v in results_of(value, f"{path}/{key}").items()}
    if isinstance(obj, list):
        return {k: v for i, value in enumerate(obj)
                for k, v in results_of(value, f"{path}[{i}]").items()}
    if isinstance(obj, float) and math.isnan(obj):
        return {path: "nan"}
    return {path: repr(obj)}


def stop(cmd: list[str], workdir: Path, sig: signal.Signals,
         ready: Callable[[Path, str], bool]) -> Interruption:
    output = interrupt(cmd, workdir, workdir.parent / f"{workdir.name}-{sig.name}.log", sig, ready)
    stopped = Interruption(sig.name, output, workflow_summary(cmd), marked_incomplete(workdir))
    logs = {f["log-file(s)"] for f in stopped.files if f["output_file"] in stopped.complete}
    stopped.before = mtimes(workdir, stopped.complete | logs)
    time.sleep(0.05)  # a redone output gets a later mtime even on a coarse clock
    return stopped


@pytest.fixture(scope="module")
def resumed(tiny_run: Path, tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The tiny workflow from an empty folder, killed twice mid-way and resumed each time.

    First a hard kill (SIGKILL to the group: power loss, the OOM killer) while the AdaBN
    feature job is half-written; it leaves Snakemake's lock behind, which `--unlock` clears.
    Then SIGINT to the group (Ctrl-C) once a head is trained; then the same command to the end.
    """
    configfile = tiny_run / "tiny.yaml"
    workdir = tmp_path_factory.mktemp("resume")
    cmd = workflow_command(workdir, configfile, tiny_bundle)
    empty = tmp_path_factory.mktemp("resume-plan")
    plan = run_command([*workflow_command(empty, configfile, tiny_bundle), "-n"], env=smk_env())
    assert plan.returncode == 0, plan.stderr[-3000:]
    killed = stop(cmd, workdir, signal.SIGKILL, adabn_half_written)
    unlock = run_command([*cmd, "--unlock"], env=smk_env())
    assert unlock.returncode == 0, unlock.stderr[-3000:]
    interrupted = stop(cmd, workdir, signal.SIGINT, a_head_finished)
    final = run_command(cmd, env=smk_env(), timeout=800)
    assert final.returncode == 0, f"rerun failed:\n{final.stdout[-3000:]}\n{final.stderr[-6000:]}"
    return {"workdir": workdir, "all_jobs": planned_jobs(plan.stdout + plan.stderr),
            "stops": [killed, interrupted], "final": final.stdout + final.stderr}


def test_hard_kill_leaves_half_written_outputs_that_the_rerun_redoes(resumed: dict):
    killed, interrupted = resumed["stops"]
    workdir = resumed["workdir"]
    assert killed.signal == "SIGKILL" and killed.complete, killed.output[-3000:]
    # The half-written AdaBN job's outputs are on disk, and planned again (rerun-incomplete).
    assert "results/backbone/adabn.onnx" in killed.left_over
    # Its rerun (the one stopped by SIGINT) planned exactly the jobs that had not finished...
    expected = Counter(resumed["all_jobs"]) - killed.complete_jobs()
    assert planned_jobs(interrupted.output) == dict(expected)
    # ...and nothing complete was redone by the end; the half-written outputs were.
    after = mtimes(workdir, set(killed.before))
    assert {n: t for n, t in after.items() if t != killed.before[n]} == {}
    redone = mtimes(workdir, killed.left_over)
    assert redone.keys() == killed.left_over
    assert all(t > max(killed.before.values()) for t in redone.values())


def test_ctrl_c_mid_run_then_same_command_redoes_only_unfinished_jobs(resumed: dict):
    _, interrupted = resumed["stops"]
    workdir = resumed["workdir"]
    assert interrupted.signal == "SIGINT"
    # Interrupted mid-way: a head among the complete outputs, and jobs still to do.
    assert any(n.endswith("/seed0/metrics.json") for n in interrupted.complete), \
        interrupted.output[-3000:]
    unfinished = {f["output_file"] for f in interrupted.files} - interrupted.complete
    assert unfinished
    # Exactly the unfinished jobs ran: every job of the workflow less those complete.
    expected = Counter(resumed["all_jobs"]) - interrupted.complete_jobs()
    assert planned_jobs(resumed["final"]) == dict(expected)
    after = mtimes(workdir, set(interrupted.before))
    assert {n: t for n, t in after.items() if t != interrupted.before[n]} == {}
    assert [n for n in unfinished if not (workdir / n).exists()] == []


def test_resumed_run_has_the_numbers_of_an_uninterrupted_run(resumed: dict, tiny_run: Path):
    workdir = resumed["workdir"]
    ours = results_of(json.loads((workdir / "results" / "summary.json").read_text()))
    reference = results_of(json.loads((tiny_run / "results" / "summary.json").read_text()))
    assert len(ours) > 100
    assert {k: (v, reference.get(k)) for k, v in ours.items() if reference.get(k) != v} == {}
    assert ours.keys() == reference.keys()
    accepted = sorted(p.relative_to(tiny_run)
                      for p in tiny_run.glob("results/heads/*/seed*/pseudo_labels.csv"))
    assert accepted
    for name in accepted:
        assert (workdir / name).read_bytes() == (tiny_run / name).read_bytes(), name
