"""The GPU check's logic on the CPU: its lines, ratios, skip reason, and the skip path itself."""

from __future__ import annotations

import math

import pytest

from synth2real.tools import gpu_check
from synth2real.tools.gpu_check import Result


def test_line_names_check_status_and_figure():
    text = gpu_check.line(Result("features", "ok", "max |GPU-CPU| 3.0e-06"))
    assert text.startswith("gpu-check features ") and text.endswith("ok: max |GPU-CPU| 3.0e-06")
    # Names are padded to one column, so the statuses line up.
    a = gpu_check.line(Result("torch", "ok", "x"))
    b = gpu_check.line(Result("generation", "FAIL", "x"))
    assert a.index("ok:") == b.index("FAIL:")


def test_ratio_is_fast_over_slow():
    assert gpu_check.ratio(300.0, 100.0) == pytest.approx(3.0)
    assert gpu_check.ratio(50.0, 200.0) == pytest.approx(0.25)
    assert math.isinf(gpu_check.ratio(1.0, 0.0))


def test_skip_reason_names_torch_and_onnxruntime_providers():
    assert gpu_check.skip_reason(True, ["CPUExecutionProvider"]) is None
    reason = gpu_check.skip_reason(False, ["AzureExecutionProvider", "CPUExecutionProvider"])
    assert reason == ("no CUDA GPU (torch.cuda.is_available() False, onnxruntime providers "
                      "['AzureExecutionProvider', 'CPUExecutionProvider'])")


def test_without_cuda_every_check_prints_one_skip_line_and_exits_0(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(gpu_check, "cuda_state", lambda: (False, ["CPUExecutionProvider"]))
    # No Context is built without a GPU: a missing bundle does not matter.
    assert gpu_check.main(["--bundle", str(tmp_path / "absent")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(gpu_check.CHECKS)
    for name, text in zip(gpu_check.CHECKS, lines):
        assert text == gpu_check.line(Result(name, "skipped", gpu_check.skip_reason(
            False, ["CPUExecutionProvider"])))


def test_a_failing_check_prints_fail_and_exits_1(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(gpu_check, "cuda_state", lambda: (True, ["CUDAExecutionProvider"]))
    monkeypatch.setattr(gpu_check, "Context", lambda bundle, tmp: object())

    def broken(ctx):
        raise AssertionError("max |GPU-CPU| 2.0e-03 (tol 0.0001)")

    monkeypatch.setattr(gpu_check, "CHECKS", {"torch": lambda ctx: "fine", "features": broken})
    assert gpu_check.main(["--bundle", str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("gpu-check torch") and " ok: fine [" in out[0]
    assert out[1].endswith("FAIL: AssertionError: max |GPU-CPU| 2.0e-03 (tol 0.0001)")
