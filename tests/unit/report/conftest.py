"""Fixtures of the report's tests: a run's provenance record for the offline config."""

from __future__ import annotations

import pytest


@pytest.fixture
def prov(bundle) -> dict:
    from synth2real.config import load_file
    from tests.conftest import REPO

    cfg = load_file(REPO / "config" / "offline.yaml", {"bundle": str(bundle)})
    return {"git_commit": "abc123", "config_hash": "h", "created": "2026-01-01T00:00:00",
            "platform": "Linux", "versions": {"python": "3.11.7", "torch": "2.15.0"},
            "hardware": {"cpu": "Test CPU", "cores": 2, "memory_gb": 8.0, "gpus": []},
            "config": cfg.model_dump(mode="json")}
