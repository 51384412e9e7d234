"""The source checkout the developer tools work on, found from the working directory.

`synth2real envs`, `bench`, `doctor` and `demo` read files that belong to the
repository, not to the installed package (uv.lock, pyproject.toml, config/,
demo/app.py, system-packages.txt). They look for it the way git does: in the
working directory and then each folder above it, so an installed module never
assumes where its source lies.
"""

from __future__ import annotations

from pathlib import Path

from synth2real.errors import Synth2RealError

# Files only a synth2real checkout's root holds together.
MARKERS = ("Snakefile", "uv.lock")


class CheckoutNotFound(Synth2RealError):
    """No synth2real checkout at or above the working directory."""


def find_checkout(start: str | Path | None = None) -> Path:
    """The nearest folder at or above `start` (default: the working directory) holding
    every file of MARKERS; raises CheckoutNotFound naming what it looked for and where."""
    here = Path(start if start is not None else Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if all((folder / name).is_file() for name in MARKERS):
            return folder
    raise CheckoutNotFound(
        f"no synth2real checkout at or above {here}: looked for a folder holding both "
        f"{' and '.join(MARKERS)}. Run this command inside the repository "
        "(git clone it, then cd into it)."
    )


def tests_module(name: str):
    """`tests.<name>` of the checkout: test fixtures that developer tools reuse (e.g. the tiny
    random diffusers pipeline), which belong to the tests, not to the installed package."""
    import importlib
    import sys

    root = str(find_checkout())
    if not (Path(root) / "tests" / f"{name}.py").is_file():
        raise CheckoutNotFound(f"{root}/tests/{name}.py not found: this tool needs the tests of a "
                               "full git checkout (the container image ships without them)")
    if root not in sys.path:
        sys.path.insert(0, root)
    return importlib.import_module(f"tests.{name}")
