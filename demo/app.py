"""The demo server: the Gradio page comparing three models, and a JSON API, in one process.

    python demo/app.py                                  # ./models, http://127.0.0.1:7860
    python demo/app.py --host 0.0.0.0 --port 8080 --models <run>/models --config config/offline.yaml
    python demo/app.py --run runs/offline               # a run: its models, settings, examples
    python demo/app.py --newest-run runs                # the run under runs/ exported last

Serves the three exported models of a run (baseline, study, adapted; see
models/card.json) on onnxruntime alone, through `synth2real.serve`: FastAPI
with the Gradio page mounted at /, run by uvicorn.

    curl -s -F files=@photo.jpg -F files=@other.png http://127.0.0.1:7860/api/v1/predict
    curl -s http://127.0.0.1:7860/healthz

`POST /api/v1/predict` returns, per photo, each model's class probabilities and
top class (or an `error`); `GET /healthz` the loaded models and versions. The
page's named Gradio endpoint `/compare` returns (HTML cards, the same JSON):

    from gradio_client import Client, handle_file
    html, result = Client("http://127.0.0.1:7860/").predict(
        [handle_file("photo.jpg")], api_name="/compare")

No public share link is ever created. Uploads are bounded by the `demo:`
section of --config: bytes per file, decoded pixels per photo and per request.
"""

from __future__ import annotations

import argparse
import csv
import logging
import shutil
import signal
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import gradio as gr
import uvicorn
import yaml
from fastapi import FastAPI
from PIL import Image
from pydantic import ValidationError

from synth2real.config import Demo
from synth2real.errors import ConfigError
from synth2real.serve.api import create_api
from synth2real.serve.compare import MAX_FILES, Comparer
from synth2real.serve.html import CSS, render_header, render_html
from synth2real.serve.runs import newest_run, recorded_demo_section

log = logging.getLogger("synth2real.demo")

# Example photos shown under the upload box: this many per class, from the run's real test set.
EXAMPLES_PER_CLASS = 2
EMPTY = render_html({"results": []})


def demo_settings(config_path: str | None) -> Demo:
    """The `demo:` section of a study config (validated), or its defaults without one.

    Only that section is read, so a config with `{bundle}` paths works without a bundle.
    """
    if not config_path:
        return Demo()
    path = Path(config_path)
    if not path.is_file():
        raise ConfigError(f"config file {config_path!r} does not exist (--config)")
    raw = yaml.safe_load(path.read_text()) or {}
    return _validated(raw.get("demo") or {}, config_path)


def run_demo_settings(run_root: str | Path) -> Demo:
    """The `demo:` section a run was made with (its results/provenance.json), else defaults."""
    found = recorded_demo_section(run_root)
    return _validated(*found) if found else Demo()


def _validated(section: dict[str, Any], where: str | Path) -> Demo:
    try:
        return Demo.model_validate(section)
    except ValidationError as err:
        problems = "\n".join(
            f"  - demo.{'.'.join(map(str, e['loc']))}: "
            + ("unknown key" if e["type"] == "extra_forbidden" else e["msg"])
            + f" (got {e['input']!r})" for e in err.errors())
        raise ConfigError(f"{where}: invalid `demo:` section:\n{problems}") from None


def pick_examples(test_csv: Path, classes: list[str], dest: Path) -> list[tuple[str, str]]:
    """Copy the first EXAMPLES_PER_CLASS test photos of each class into `dest` (served from
    there); returns (copied path, true class) pairs.

    Copies, because Gradio serves only files under allowed folders, and the
    bundle is never put into the repository. `dest` is removed when the server stops.
    """
    if not test_csv.is_file():
        log.warning("%s not found: no example photos (pass --examples <real_test.csv>)", test_csv)
        return []
    with test_csv.open() as fh:
        rows = list(csv.DictReader(fh))
    picked: list[tuple[str, str]] = []
    for cls in classes:
        for r in [r for r in rows if r["label"] == cls][:EXAMPLES_PER_CLASS]:
            src = Path(r["path"])
            if not src.is_file():
                log.warning("example %s (from %s) is missing; skipped", src, test_csv)
                continue
            out = dest / f"{cls}-{len(picked)}{src.suffix.lower()}"
            shutil.copyfile(src, out)
            picked.append((str(out), cls))
    return picked


def build(comparer: Comparer, examples: list[tuple[str, str]]) -> gr.Blocks:
    """The page: the models' facts once, upload, examples, result cards, raw JSON."""
    labels = dict(examples)
    paths = [p for p, _ in examples]

    def compare(files: list[str] | None) -> tuple[str, dict[str, Any]]:
        if not files:
            return EMPTY, {}
        result = comparer.compare_paths(files, thumbnails=True, labels=labels)
        page = render_html(result)
        for r in result["results"]:
            r.pop("thumbnail", None)  # the API result stays small; the cards already show it
        return page, result

    def compare_example(evt: gr.SelectData) -> tuple[str, dict[str, Any]]:
        return compare([paths[evt.index]])

    def clear() -> tuple[str, None]:
        return EMPTY, None

    info = comparer.describe()
    with gr.Blocks(title="synth2real: does adaptation help?", analytics_enabled=False,
                   delete_cache=(3600, 3600)) as app:
        gr.Markdown("# Does adapting to real photos help? Three classifiers side by side")
        gr.HTML(render_header(info), elem_id="s2r-header")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=340):
                files = gr.File(label=f"Your photos (up to {MAX_FILES})",
                                file_count="multiple", file_types=["image"], elem_id="s2r-upload")
                run = gr.Button("Compare", variant="primary")
            if examples:
                with gr.Column(scale=1, min_width=340):
                    gr.Markdown("**Examples from the run's real test set** (caption = true "
                                "class); click one to compare it.")
                    gallery = gr.Gallery([(p, c) for p, c in examples], show_label=False,
                                         columns=len(examples), rows=1, height="auto",
                                         allow_preview=False, object_fit="cover", buttons=[],
                                         elem_id="s2r-examples")
                    all_examples = gr.Button("Compare all examples", size="sm")
        cards = gr.HTML(EMPTY, elem_id="s2r-results")
        with gr.Accordion("Raw JSON (as /api/v1/predict returns it)", open=False):
            raw = gr.JSON()

        outputs = [cards, raw]
        # The one public endpoint; the others are UI conveniences over the same function.
        # The comparer's own lanes bound the work; this only caps the threads waiting on them.
        limit = {"concurrency_limit": 8, "concurrency_id": "models"}
        run.click(compare, files, outputs, api_name="compare", **limit)
        files.upload(compare, files, outputs, api_visibility="private", **limit)
        files.delete(compare, files, outputs, api_visibility="private", **limit)
        files.clear(clear, None, outputs, api_visibility="private", queue=False)
        if examples:
            gallery.select(compare_example, None, outputs, api_visibility="private", **limit)
            all_examples.click(lambda: compare(paths), None, outputs, api_visibility="private",
                               **limit)
    return app


def server(comparer: Comparer, examples: list[tuple[str, str]], examples_dir: Path) -> FastAPI:
    """The JSON API with the page mounted at /."""
    page = build(comparer, examples).queue(max_size=256)
    return gr.mount_gradio_app(
        create_api(comparer), page, path="/", max_file_size=comparer.max_upload_bytes,
        allowed_paths=[str(examples_dir)], show_error=True, ssr_mode=False, css=CSS,
        theme=gr.themes.Soft(), footer_links=["api"])


def _exit_on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1",
                    help="interface to listen on (default 127.0.0.1; 0.0.0.0 in a container)")
    ap.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    which = ap.add_mutually_exclusive_group()
    which.add_argument("--models", default=None,
                       help="folder with card.json and the three ONNX models (default ./models)")
    which.add_argument("--run", default=None,
                       help="a run's output root (e.g. runs/offline): its models/, the `demo:` "
                            "settings it was made with and its test photos as examples")
    which.add_argument("--newest-run", default=None, metavar="PARENT",
                       help="the run under PARENT (e.g. runs) whose models were exported last, "
                            "as --run; says which")
    ap.add_argument("--config", default=None,
                    help="study config whose `demo:` section to use (default: the run's own with "
                         "--run/--newest-run, else built-in defaults)")
    ap.add_argument("--examples", default=None,
                    help="real test manifest to take example photos from (default: "
                         "results/data/real_test.csv of the run the --models folder belongs to)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        run = Path(args.run) if args.run else None
        if args.newest_run:
            newest = newest_run(args.newest_run)
            run = newest.root
            log.info("serving %s: the newest run with exported models under %s/ "
                     "(another: `make demo CONFIG=<config>` or `MODELS=<folder>`)",
                     newest.describe(), args.newest_run)
        models = run / "models" if run else Path(args.models or "models")
        settings = (demo_settings(args.config) if args.config or run is None
                    else run_demo_settings(run))
        comparer = Comparer(models, settings)
    except (ConfigError, FileNotFoundError, ValueError, RuntimeError) as e:
        print(f"demo: {e}", file=sys.stderr)
        return 2
    # Pillow's own decompression-bomb guard at the same budget, for any other code path.
    Image.MAX_IMAGE_PIXELS = comparer.max_image_pixels
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused with our words
    # uvicorn re-raises the SIGTERM it caught once it has shut down; as an exception (not the
    # default handler's instant exit) it lets the `finally` below remove the example copies.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    examples_dir = Path(tempfile.mkdtemp(prefix="synth2real-examples-"))
    try:
        # A run keeps its models/ beside its results/: by default the examples come from that run.
        run_results = models.absolute().parent / "results"
        test_csv = Path(args.examples) if args.examples is not None else (
            run_results / "data" / "real_test.csv")
        examples = pick_examples(test_csv, comparer.classes, examples_dir)
        log.info("models: %s", {r: (i.variant, i.providers) for r, i in comparer.models.info.items()})
        log.info("serving http://%s:%d/ (JSON API: /api/v1/predict, health: /healthz)",
                 args.host, args.port)
        uvicorn.run(server(comparer, examples, examples_dir), host=args.host, port=args.port,
                    log_level="warning", timeout_graceful_shutdown=5)
    finally:
        comparer.close()
        shutil.rmtree(examples_dir, ignore_errors=True)
        log.info("stopped; removed %s", examples_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
