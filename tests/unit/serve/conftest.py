"""What the serve tests share: the demo page's module (demo/app.py belongs to the checkout)."""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def app():
    spec = importlib.util.spec_from_file_location("demo_app", REPO / "demo" / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
