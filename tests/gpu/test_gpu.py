"""The GPU check (synth2real.tools.gpu_check) as tests: `pytest -m gpu`, one test per check.

`make gpu-check` runs the same check functions and prints one line each; here a
failed check fails its test with that line. Without a CUDA GPU every test skips.
The onnxruntime checks also skip where the CPU build of onnxruntime is installed
(`make test` on a GPU machine): `make gpu-check` installs the GPU build and fails there
instead when its CUDA provider does not load.
"""

from __future__ import annotations

import tempfile

import pytest

from synth2real.tools import gpu_check

pytestmark = pytest.mark.gpu
NEEDS_ORT_CUDA = {"onnxruntime", "features", "study"}


@pytest.fixture(scope="module")
def state():
    cuda, providers = gpu_check.cuda_state()
    reason = gpu_check.skip_reason(cuda, providers)
    if reason:
        pytest.skip(reason)
    return providers


@pytest.fixture(scope="module")
def ctx(state, request):
    # Only now the bundle: without a GPU the tests skip even where no bundle is.
    bundle = request.getfixturevalue("bundle")
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        yield gpu_check.Context(bundle, tmp)


@pytest.mark.parametrize("name", list(gpu_check.CHECKS))
def test_gpu_check(state, ctx, name):
    if name in NEEDS_ORT_CUDA and "CUDAExecutionProvider" not in state:
        pytest.skip(f"onnxruntime CPU build (providers {state}): `make gpu-check` installs the "
                    "GPU build")
    figure = gpu_check.CHECKS[name](ctx)  # raises AssertionError/RuntimeError with its figure
    print(gpu_check.line(gpu_check.Result(name, "ok", figure)))
