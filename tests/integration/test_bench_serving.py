"""The serving benchmark runs end to end on the tiny run's models and prints every figure."""

from __future__ import annotations

import re

from synth2real.data import manifests
from synth2real.tools import bench_serving


def test_bench_serving_prints_latency_and_ratios(tiny_run, monkeypatch, capsys):
    monkeypatch.setattr(bench_serving, "LATENCY_WARMUP", 1)
    monkeypatch.setattr(bench_serving, "LATENCY_REQUESTS", 8)
    rows = manifests.read_csv(tiny_run / "results" / "data" / "real_test.csv")
    bench_serving.main(tiny_run / "models", [tiny_run / r["path"] for r in rows[:4]])
    out = capsys.readouterr().out
    assert re.search(r"/compare latency, 1 photo, 8 requests: p50 [\d.]+ ms, p95 [\d.]+ ms", out)
    assert re.search(r"in-process .*: p50 [\d.]+ ms", out)
    ratios = re.findall(r"batch +(\d+): onnxruntime +[\d.]+ images/s, eager torch +[\d.]+ "
                        r"images/s -> onnxruntime/torch = ([\d.]+)x \(max \|dlogit\| ([\d.e+-]+)\)",
                        out)
    assert [int(b) for b, _, _ in ratios] == [1, 32, 1, 32]
    # Both engines ran the same model: their logits agree (the ratios compare like with like).
    assert all(float(r) > 0 and float(d) <= 1e-4 for _, r, d in ratios)
