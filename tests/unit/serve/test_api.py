"""The JSON API and the page mounted beside it, in-process (FastAPI's test client, toy models)."""

from __future__ import annotations

import importlib.util
import io

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from synth2real.config import Demo
from synth2real.serve.api import PREDICT, create_api
from synth2real.serve.compare import MAX_FILES, Comparer
from tests.conftest import REPO
from tests.unit.serve.test_compare import toy_models


@pytest.fixture(scope="module")
def comparer(tmp_path_factory):
    return Comparer(toy_models(tmp_path_factory.mktemp("api") / "models"), Demo(max_upload_mb=0.05))


def _png(color=(0, 0, 255), size=(24, 24)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def client(comparer):
    return TestClient(create_api(comparer))


def test_predict_returns_every_model_per_photo(client):
    r = client.post(PREDICT, files=[("files", ("blue.png", _png(), "image/png")),
                                    ("files", ("notes.txt", b"text", "text/plain"))])
    assert r.status_code == 200
    body = r.json()
    blue, text = body["results"]
    assert blue["file"] == "blue.png" and blue["error"] is None
    for role in ("baseline", "study", "adapted"):
        assert blue[role]["top_class"] == "blue"
        assert sum(blue[role]["probabilities"].values()) == pytest.approx(1.0)
    assert text["error_code"] == "unsupported" and text["adapted"] is None
    assert set(body["models"]) == {"baseline", "study", "adapted"} and "thumbnail" not in blue


@pytest.mark.parametrize("kwargs,status,message", [
    ({"json": {"files": []}}, 415, "multipart/form-data"),
    ({"files": [("photo", ("a.png", _png(), "image/png"))]}, 400, "no photos"),
    ({"files": [("files", ("a.png", _png(), "image/png"))] * (MAX_FILES + 9)}, 413,
     f"{MAX_FILES + 9} files in one request; at most {MAX_FILES}"),
    ({"files": [("files", ("a.png", b"x" * (MAX_FILES * 60_000), "image/png"))]}, 413,
     "over the"),
])
def test_bad_requests_get_a_json_error_and_status(client, kwargs, status, message):
    r = client.post(PREDICT, **kwargs)
    assert r.status_code == status and message in r.json()["error"]
    assert client.post(PREDICT, files=[("files", ("a.png", _png(), "image/png"))]).status_code == 200


def test_healthz_names_models_and_versions(client):
    h = client.get("/healthz").json()
    assert h["status"] == "ok" and h["models"]["adapted"]["variant"] == "balanced"
    assert h["models"]["adapted"]["real_labels"] == 0
    assert h["versions"]["onnxruntime"] and h["limits"]["max_files"] == MAX_FILES


def test_page_is_mounted_beside_the_api(comparer, tmp_path):
    spec = importlib.util.spec_from_file_location("demo_app", REPO / "demo" / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    with TestClient(app.server(comparer, [], tmp_path)) as c:
        assert c.get("/healthz").status_code == 200
        config = c.get("/config").json()
        assert "compare" in [d.get("api_name") for d in config["dependencies"]]
