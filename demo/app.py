"""Gradio demo: upload photos, see the baseline and the adapted model side by side.

    python demo/app.py                                  # ./models, 127.0.0.1:7860
    python demo/app.py --host 0.0.0.0 --port 8080 --models <run>/models --config config/offline.yaml

Runs on onnxruntime alone (CUDA provider when available) through
`synth2real.serve` (the comparison and the cards' HTML). The named API endpoint
`/compare` takes a list of image files and returns (HTML cards, JSON result);
from Python:

    from gradio_client import Client, handle_file
    html, result = Client("http://127.0.0.1:7860/").predict(
        [handle_file("photo.jpg")], api_name="/compare")

No public share link is ever created; uploads are capped at demo.max_upload_mb.
"""

from __future__ import annotations

import argparse
import csv
import logging
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import gradio as gr
import yaml
from pydantic import ValidationError

from synth2real.config import Demo
from synth2real.errors import ConfigError
from synth2real.serve.compare import MAX_FILES, Comparer
from synth2real.serve.html import CSS, render_html

log = logging.getLogger("synth2real.demo")

# Example photos shown under the upload box: this many per class, from the run's real test set.
EXAMPLES_PER_CLASS = 2


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
    try:
        return Demo.model_validate(raw.get("demo") or {})
    except ValidationError as err:
        problems = "\n".join(
            f"  - demo.{'.'.join(map(str, e['loc']))}: "
            + ("unknown key" if e["type"] == "extra_forbidden" else e["msg"])
            + f" (got {e['input']!r})" for e in err.errors())
        raise ConfigError(f"{config_path}: invalid `demo:` section:\n{problems}") from None


def pick_examples(test_csv: Path, classes: list[str], dest: Path) -> list[str]:
    """Copy the first EXAMPLES_PER_CLASS test photos of each class into `dest` (served from there).

    Copies, because Gradio serves only files under allowed folders, and the
    bundle is never put into the repository.
    """
    if not test_csv.is_file():
        log.warning("%s not found: no example photos (pass --examples <real_test.csv>)", test_csv)
        return []
    with test_csv.open() as fh:
        rows = list(csv.DictReader(fh))
    picked: list[str] = []
    for cls in classes:
        for r in [r for r in rows if r["label"] == cls][:EXAMPLES_PER_CLASS]:
            src = Path(r["path"])
            if not src.is_file():
                log.warning("example %s (from %s) is missing; skipped", src, test_csv)
                continue
            out = dest / f"{cls}-{len(picked)}{src.suffix.lower()}"
            shutil.copyfile(src, out)
            picked.append(str(out))
    return picked


def build(comparer: Comparer, examples: list[str]) -> gr.Blocks:
    """The page: explanation, upload, examples, result cards, raw JSON."""

    def compare(files: list[str] | None) -> tuple[str, dict[str, Any]]:
        result = comparer.compare(files)
        page = render_html(result)
        for r in result["results"]:
            r.pop("thumbnail", None)  # the API result stays small; the cards already show it
        return page, result

    def compare_example(evt: gr.SelectData) -> tuple[str, dict[str, Any]]:
        return compare([examples[evt.index]])

    def compare_all_examples() -> tuple[str, dict[str, Any]]:
        return compare(examples)

    classes = "/".join(comparer.classes)
    with gr.Blocks(title="synth2real: baseline vs adapted", analytics_enabled=False,
                   delete_cache=(3600, 3600)) as app:
        gr.Markdown(f"# Does domain adaptation change the answer?\n"
                    f"Upload photos of a **{classes}** (or anything else) and compare the "
                    "classifier trained on synthetic images with the one adapted to real photos.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=2):
                files = gr.File(label=f"Photos (up to {MAX_FILES}, JPEG/PNG/GIF/WebP/TIFF)",
                                file_count="multiple", file_types=["image"], height=150)
                run = gr.Button("Compare", variant="primary")
            with gr.Column(scale=3):
                gr.Markdown(comparer.explanation())
        if examples:
            with gr.Row(equal_height=True):
                gallery = gr.Gallery(examples, label="Examples from the real test set (click one)",
                                     columns=len(examples), rows=1, height=205, scale=5,
                                     allow_preview=False, object_fit="cover")
                all_examples = gr.Button("Compare all examples", scale=1)
        cards = gr.HTML(render_html({"results": []}), elem_id="s2r-results")
        with gr.Accordion("Raw result (JSON, as returned by the /compare API)", open=False):
            raw = gr.JSON()

        outputs = [cards, raw]
        # The one public endpoint; the others are UI conveniences over the same function.
        # Two at a time: onnxruntime already uses every core for one request.
        # All events share one limit (the lowest in a concurrency_id group wins).
        limit = {"concurrency_limit": 2, "concurrency_id": "models"}
        run.click(compare, files, outputs, api_name="compare", **limit)
        files.upload(compare, files, outputs, api_visibility="private", **limit)
        if examples:
            gallery.select(compare_example, None, outputs, api_visibility="private", **limit)
            all_examples.click(compare_all_examples, None, outputs, api_visibility="private",
                               **limit)
    return app


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1",
                    help="interface to listen on (default 127.0.0.1; 0.0.0.0 in a container)")
    ap.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    ap.add_argument("--models", default="models",
                    help="folder with baseline.onnx and adapted.onnx (default ./models)")
    ap.add_argument("--config", default=None,
                    help="study config whose `demo:` section to use (default: built-in defaults)")
    ap.add_argument("--examples", default=None,
                    help="real test manifest to take example photos from (default: "
                         "results/data/real_test.csv of the run the --models folder belongs to)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        settings = demo_settings(args.config)
        comparer = Comparer(args.models, settings.unsure_threshold, settings.max_upload_mb)
    except (ConfigError, FileNotFoundError, ValueError) as e:
        print(f"demo: {e}", file=sys.stderr)
        return 2
    examples_dir = Path(tempfile.mkdtemp(prefix="synth2real-examples-"))
    # A run keeps its models/ beside its results/: by default the examples come from that run.
    run_results = Path(args.models).absolute().parent / "results"
    test_csv = Path(args.examples) if args.examples is not None else (
        run_results / "data" / "real_test.csv")
    examples = pick_examples(test_csv, comparer.classes, examples_dir)
    app = build(comparer, examples)
    log.info("models: %s", {r: (i.variant, i.providers) for r, i in comparer.info.items()})
    app.queue(max_size=256).launch(
        server_name=args.host, server_port=args.port, share=False, ssr_mode=False,
        max_file_size=comparer.max_upload_bytes, allowed_paths=[str(examples_dir)],
        show_error=True, css=CSS, theme=gr.themes.Soft(), footer_links=["api"],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
