"""onnxruntime sessions of the backbone module: the providers asked for, logged, and never a
silent fallback from a requested CUDA provider to the CPU."""

from __future__ import annotations

import logging

import pytest
import torch

from synth2real.model import backbone
from synth2real.model.backbone import export_onnx, fallen_back, ort_session

CUDA, CPU = "CUDAExecutionProvider", "CPUExecutionProvider"


def test_fallen_back_lists_requested_gpu_providers_not_in_use():
    assert fallen_back([CUDA, CPU], [CUDA, CPU]) == []
    assert fallen_back([CUDA, CPU], [CPU]) == [CUDA]
    assert fallen_back([CPU], [CPU]) == []
    assert fallen_back(["TensorrtExecutionProvider", CUDA, CPU], [CUDA, CPU]) == [
        "TensorrtExecutionProvider"]


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    model = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    return export_onnx(model, tmp_path_factory.mktemp("onnx") / "pool.onnx", 8, "features")


class FakeSession:
    """An InferenceSession that, like onnxruntime with unloadable CUDA libraries, runs on the CPU."""

    def __init__(self, path, sess_options=None, providers=()):
        self.requested = [p if isinstance(p, str) else p[0] for p in providers]

    def get_providers(self):
        return [CPU]


def test_cpu_session_logs_its_providers(tiny_onnx, caplog):
    with caplog.at_level(logging.INFO, logger=backbone.__name__):
        session = ort_session(tiny_onnx, threads=1, device="cpu")
    assert session.get_providers() == [CPU]
    assert f"providers ['{CPU}']" in caplog.text


def test_requested_cuda_that_falls_back_to_cpu_is_an_error(tiny_onnx, monkeypatch):
    import onnxruntime as ort

    monkeypatch.setattr(ort, "get_available_providers", lambda: [CUDA, CPU])
    monkeypatch.setattr(ort, "InferenceSession", FakeSession)
    with pytest.raises(RuntimeError, match=r"did not load \['CUDAExecutionProvider'\]"):
        ort_session(tiny_onnx, device="cuda")
    # "auto" asks for CUDA only where torch sees a GPU too, and then fails the same way.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    with pytest.raises(RuntimeError, match="did not load"):
        ort_session(tiny_onnx)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert ort_session(tiny_onnx).requested == [CPU]


def test_cuda_without_the_gpu_build_names_the_extra(tiny_onnx, monkeypatch):
    import onnxruntime as ort

    monkeypatch.setattr(ort, "get_available_providers", lambda: [CPU])
    with pytest.raises(RuntimeError, match="ORT=gpu"):
        ort_session(tiny_onnx, device="cuda")
