"""The JSON API beside the demo page, on the same `Comparer` (one process, one set of models).

    POST /api/v1/predict   multipart form, one or more `files` fields (photos)
        -> 200 {"classes", "models", ..., "results": [per photo: "file", "error",
                 "error_code", "baseline"/"study"/"adapted": {"top_class", "confidence",
                 "probabilities", "logits"} | null, "disagree", "unsure", "notes"]}
    GET  /healthz          -> 200 {"status": "ok", "models": {...}, "versions": {...}}

A bad photo is reported in its own result (`error`, `error_code`) and never
fails the others; a bad request is refused whole with a JSON body
{"error": message} and a status code: 400 (no `files`), 411 (no
Content-Length), 413 (too many files or too many bytes), 415 (not
multipart/form-data).
"""

from __future__ import annotations

import platform
from importlib import metadata
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import HTTPException
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from synth2real.serve.compare import MAX_FILES, Comparer, Upload

PREDICT = "/api/v1/predict"
# Room for the multipart framing around MAX_FILES full-size files.
FRAMING_BYTES = 64 * 1024


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def versions() -> dict[str, str | None]:
    """Versions of what serves the models (for /healthz)."""
    return {"synth2real": _version("synth2real"), "onnxruntime": _version("onnxruntime")
            or _version("onnxruntime-gpu"), "gradio": _version("gradio"),
            "python": platform.python_version()}


def create_api(comparer: Comparer) -> FastAPI:
    """A FastAPI app with the JSON routes; the demo mounts its Gradio page on it."""
    app = FastAPI(title="synth2real", docs_url="/api/v1/docs", redoc_url=None,
                  openapi_url="/api/v1/openapi.json")
    max_body = MAX_FILES * comparer.max_upload_bytes + FRAMING_BYTES

    # Starlette's own (malformed multipart, 404, 405) too, so every error is {"error": ...}.
    @app.exception_handler(StarletteHTTPException)
    async def _as_json(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        info = comparer.describe()
        models = {r: {k: m[k] for k in ("variant", "onnx", "providers", "test_accuracy",
                                        "real_labels")}
                  for r, m in info["models"].items()}
        return {"status": "ok", "models": models, "classes": info["classes"],
                "limits": info["limits"], "versions": versions()}

    @app.post(PREDICT)
    async def predict(request: Request) -> dict[str, Any]:
        ctype = request.headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            raise HTTPException(415, "send the photos as multipart/form-data, one `files` field "
                                     "per photo (curl -F files=@photo.jpg ...)")
        length = request.headers.get("content-length")
        if length is None:
            raise HTTPException(411, "a Content-Length header is required")
        if int(length) > max_body:
            raise HTTPException(413, f"request of {int(length) / 2**20:.1f} MB is over the "
                                     f"{max_body / 2**20:.1f} MB limit ({MAX_FILES} files of at "
                                     f"most {comparer.settings.max_upload_mb:g} MB)")
        form = await request.form(max_files=4 * MAX_FILES, max_fields=4 * MAX_FILES)
        try:
            files = form.getlist("files")
            if not files:
                raise HTTPException(400, "no photos: send each one as a `files` field "
                                         "(curl -F files=@photo.jpg ...)")
            if not all(isinstance(f, UploadFile) for f in files):
                raise HTTPException(400, "every `files` field must be a file upload")
            if len(files) > MAX_FILES:
                raise HTTPException(413, f"{len(files)} files in one request; at most "
                                         f"{MAX_FILES}: send the rest in another request")
            uploads = [Upload(f.filename or f"file-{i + 1}", f.file,
                              f.size if f.size is not None else -1)
                       for i, f in enumerate(files)]
            # The comparison blocks (it waits for its lane): off the event loop.
            return await anyio.to_thread.run_sync(comparer.compare, uploads)
        finally:
            await form.close()

    return app
