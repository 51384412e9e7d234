"""`synth2real <command>`: what people run outside the workflow.

Each command is a thin front over one module's `main`, so `synth2real X` and
`python -m <that module>` (e.g. `python -m synth2real.tools.envs`) behave the
same. The workflow itself runs through
`make reproduce` (Snakemake); these are the tools around it. Commands that
need the repository's files find it from the working directory
(`synth2real.tools.checkout`).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Sequence

from synth2real.errors import Synth2RealError
from synth2real.tools.checkout import find_checkout

COMMANDS: dict[str, tuple[str, str]] = {
    "predict": ("synth2real.predict", "classify image files with an exported ONNX model (JSON out)"),
    "demo": ("synth2real.cli:_demo", "the web demo and JSON API: baseline, study and adapted models on uploaded photos"),
    "bench": ("synth2real.tools.bench", "speed ratios measured side by side (--quick for a short run)"),
    "fetch-weights": ("synth2real.tools.fetch_weights", "download the weights a config needs (network)"),
    "envs": ("synth2real.tools.envs", "regenerate (or --check) the conda env files from uv.lock"),
    "doctor": ("synth2real.tools.doctor", "what this machine has and lacks, with the command that fixes it"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [(__doc__ or "").splitlines()[0], "", "usage: synth2real <command> [options]", "",
             "commands:"]
    lines += [f"  {name:<{width}}  {what}" for name, (_, what) in COMMANDS.items()]
    lines += ["", "`synth2real <command> --help` gives each command's options."]
    return "\n".join(lines)


def _demo(argv: Sequence[str]) -> int | None:
    """Runs demo/app.py of the checkout (the Gradio page is not part of the package)."""
    app = find_checkout() / "demo" / "app.py"
    if not app.is_file():
        sys.stderr.write(f"synth2real demo: {app} not found; the demo runs from a source checkout "
                         "(git clone, then `make demo`).\n")
        return 2
    spec = importlib.util.spec_from_file_location("synth2real_demo_app", app)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(list(argv))


def _resolve(target: str) -> Callable[[Sequence[str]], int | None]:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr or "main")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        sys.stderr.write(f"synth2real: unknown command {name!r}; one of: {', '.join(COMMANDS)}\n")
        return 2
    sys.argv[0] = f"synth2real {name}"  # argparse's prog in each command's --help
    try:
        rc = _resolve(COMMANDS[name][0])(rest)
    except Synth2RealError as e:  # a user error: one line, no traceback
        sys.stderr.write(f"synth2real {name}: {e}\n")
        return 1
    return int(rc or 0)


if __name__ == "__main__":
    raise SystemExit(main())
