"""Every command of the README's command table, run as typed, against a tiny run.

`make reproduce` itself is the end-to-end test (tests/e2e); the rest run here on
the tiny run's folder (RUN_DIR) with its config and bundle, through the real
Makefile and the installed `synth2real` entry point. The first test keeps the
table and this file in step: a README command without a test fails it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request

import pytest
from gradio_client import Client, handle_file

from synth2real.data import manifests
from synth2real.tools.bench_serving import free_port
from tests.conftest import REPO, run_make, user_env

SYNTH2REAL = REPO / ".venv" / "bin" / "synth2real"
# README command -> the test below that runs it.
COVERED = {
    "make reproduce": "tests/e2e/test_offline_study.py",
    "make paper": "test_make_paper_builds_the_real_main_tex",
    "make report": "test_make_report",
    "make demo": "test_make_demo_starts_and_answers",
    "make bench": "test_make_bench_quick",
    "make fetch-weights": "test_make_fetch_weights_offline_error",
    "make envs": "test_make_envs_changes_nothing",
    "make doctor": "test_make_doctor",
    "make test": ".ci/run (CI runs it in a fresh Debian root)",
    "make check-fresh": ".ci/run (same script); the closing notes give the trixie transcript",
    "make check-container": "docker/check-container.sh; needs podman and ~1 h, run by hand",
    "docker compose": "tests/unit/test_container.py (no Docker engine here)",
}


def _tiny_args(tiny_run, tiny_bundle) -> list[str]:
    return [f"CONFIG={tiny_run / 'tiny.yaml'}", f"BUNDLE={tiny_bundle}", f"RUN_DIR={tiny_run}", "CORES=2"]


def test_every_readme_command_has_a_test():
    text = (REPO / "README.md").read_text()
    table = text.split("| command | what |", 1)[1].split("\n\n", 1)[0]
    commands = re.findall(r"^\| `((?:make [\w-]+)|(?:docker compose))", table, flags=re.MULTILINE)
    commands += re.findall(r" / `(make [\w-]+)", table)
    assert len(commands) >= 8
    missing = sorted(set(commands) - set(COVERED))
    assert not missing, f"README commands with no test: {missing}"
    here = (REPO / "tests" / "integration" / "test_readme_commands.py").read_text()
    for test in COVERED.values():
        if test.startswith("test_"):
            assert f"def {test}(" in here, test


def test_make_paper_builds_the_real_main_tex(tiny_run, tiny_bundle):
    pdf = tiny_run / "paper" / "main.pdf"
    pdf.unlink()
    proc = run_make("paper", *_tiny_args(tiny_run, tiny_bundle), timeout=540)
    out = proc.stdout + proc.stderr
    # Only the stale paper reran: the tiny run's tables, figures and numbers were reused.
    assert re.search(r"^paper\s+1$", out, flags=re.MULTILINE), out[-3000:]
    assert not re.search(r"^(features|train_\w+)\s+\d", out, flags=re.MULTILINE)
    assert pdf.read_bytes()[:5] == b"%PDF-"
    log = (tiny_run / "paper" / "build" / "main.log").read_text()
    assert "Output written on build/main.pdf" in log
    assert "lmodern.sty" in log  # the paper's fonts, from the one package list
    pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(
        ["pdfinfo", str(pdf)], capture_output=True, text=True, check=True, timeout=60).stdout)[1])
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True,
                          timeout=60).stdout
    assert pages >= 3, pages
    summary = json.loads((tiny_run / "results" / "summary.json").read_text())
    acc = summary["variants"]["pseudo-label"]["test_acc"]["mean"]
    assert f"{100 * acc:.1f}" in text, "the paper must quote this run's pseudo-label accuracy"
    assert "offline" in text.lower()


def test_make_report(tiny_run, tiny_bundle):
    # `make report` writes into <RUN_DIR>/reports/, which no workflow job creates: the
    # command must make it (Snakemake does not).
    report = tiny_run / "reports" / "report.html"
    assert not report.parent.exists()
    out = run_make("report", *_tiny_args(tiny_run, tiny_bundle), timeout=540).stdout
    assert f"report: {tiny_run}/reports/report.html" in out
    html = report.read_text()
    # Every figure with its caption, and the run's workflow description.
    for caption in ("Pseudo-label diagnostics", "Real-test confusion matrix", "beside the",
                    "Offline run"):
        assert caption in html, caption


def test_make_demo_starts_and_answers(tiny_run):
    port = free_port()
    env = {**user_env(), "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen(["make", "-C", str(REPO), "demo", f"MODELS={tiny_run / 'models'}",
                             f"PORT={port}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, f"make demo exited with {proc.returncode}:\n{proc.stdout.read()}"
            try:
                with urllib.request.urlopen(url + "config", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "make demo: no page after 180 s"
            time.sleep(0.5)
        photo = manifests.read_csv(tiny_run / "results" / "data" / "real_test.csv")[0]
        client = Client(url, verbose=False, analytics_enabled=False, download_files=False)
        html, result = client.predict([handle_file(photo["path"])], api_name="/compare")
        assert html.count('data-role="baseline"') == html.count('data-role="adapted"') == 1
        [answer] = result["results"]
        assert answer["error"] is None and answer["adapted"]["top_class"] in ("dog", "cat", "bird")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_make_bench_quick(tiny_run, tiny_bundle):
    out = run_make("bench", f"BUNDLE={tiny_bundle}", "BENCH_ARGS=--quick",
                   f"BENCH_MODELS={tiny_run / 'models'}", timeout=540).stdout
    assert "ratio ort/torch" in out and "agree at 1e-4" in out
    assert re.search(r"ratio naive / cached, per epoch\s+\d+x", out)
    # [2]: the study's training jobs beside the floor of its backbone passes, as a ratio.
    assert re.search(r"floor: backbone passes\s+[\d.]+ s \(\d+ images", out)
    assert re.search(r"ratio study / floor\s+[\d.]+x", out)
    # [3]: the serving benchmark on the tiny run's models, through a real demo server.
    serving = out.split("[3] serving")[1].split("[4]")[0]
    assert "skipped" not in serving, serving
    assert re.search(r"POST /api/v1/predict, one 32 px photo, three models, \d+ requests: "
                     r"p50 [\d.]+ ms, p95 [\d.]+ ms", serving)
    assert re.search(r"Gradio /compare .*: p50 [\d.]+ ms, p95 [\d.]+ ms -> /compare / API = "
                     r"[\d.]+x", serving)
    assert re.search(r"in-process .*: p50 [\d.]+ ms", serving)
    ratios = re.findall(r"batch +(\d+): onnxruntime +[\d.]+ images/s, eager torch +[\d.]+ "
                        r"images/s -> onnxruntime/torch = ([\d.]+)x \(max \|dlogit\| ([\d.e+-]+)\)",
                        serving)
    assert [int(b) for b, _, _ in ratios] == [1, 32, 1, 32], serving
    # Both engines ran the same model: their logits agree (the ratios compare like with like).
    assert all(float(r) > 0 and float(d) <= 1e-4 for _, r, d in ratios), serving


def test_make_fetch_weights_offline_error(tmp_path):
    # The paper config needs Stable Diffusion; with an empty cache and no hub access
    # the command must stop at once, naming the model, the cache and the fix.
    proc = run_make("fetch-weights", check=False, timeout=300,
                    env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
                         "TORCH_HOME": str(tmp_path / "torch")})
    assert proc.returncode != 0
    err = proc.stderr
    assert "fetch-weights:" in err and "HF_HUB_OFFLINE=1" in err, err[-3000:]
    assert str(tmp_path / "hf") in err and "stable-diffusion" in err.lower(), err[-3000:]
    assert "Traceback" not in err


def test_make_envs_changes_nothing():
    files = [REPO / "environment.yml", *sorted((REPO / "envs").glob("*.yaml"))]
    before = {f: f.read_bytes() for f in files}
    out = run_make("envs", timeout=300).stdout
    assert "wrote" not in out, out
    assert {f: f.read_bytes() for f in files} == before
    check = subprocess.run([str(SYNTH2REAL), "envs", "--check"], capture_output=True, text=True,
                           check=False, timeout=300)
    assert check.returncode == 0, check.stderr


def test_make_doctor(bundle):
    proc = run_make("doctor", f"BUNDLE={bundle}", check=False, timeout=300)
    out = proc.stdout
    for what in ("Python", "uv", "onnxruntime", "providers", "lmodern", "latexmk", "bundle"):
        assert what in out, f"doctor says nothing about {what}:\n{out}"
    assert proc.returncode == 0, out + proc.stderr  # `make test` installed everything it checks


@pytest.mark.parametrize("argv, code, expect", [
    (["--help"], 0, ["predict", "demo", "bench", "fetch-weights", "envs", "doctor"]),
    (["no-such-command"], 2, ["unknown command", "doctor"]),
    (["predict", "--help"], 0, ["onnx"]),
    (["demo", "--help"], 0, ["--models", "--port"]),
    (["bench", "--help"], 0, ["--quick"]),
    (["fetch-weights", "--help"], 0, ["--config"]),
])
def test_installed_entry_point(argv, code, expect):
    proc = subprocess.run([str(SYNTH2REAL), *argv], capture_output=True, text=True, timeout=300, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == code, out
    for word in expect:
        assert word.lower() in out.lower(), f"synth2real {' '.join(argv)}: no {word!r} in\n{out}"


def test_entry_point_predict_gives_json(tiny_run):
    photo = manifests.read_csv(tiny_run / "results" / "data" / "real_test.csv")[0]
    proc = subprocess.run([str(SYNTH2REAL), "predict", str(tiny_run / "models" / "adapted.onnx"),
                           photo["path"]], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    rows = out if isinstance(out, list) else out.get("predictions", out)
    assert photo["path"] in json.dumps(rows)
    assert any(c in json.dumps(rows) for c in ("dog", "cat", "bird"))
