"""The workflow's two entry points into the package: config validation and calling a stage.

A rule's script is two lines: import the stage function, then
`run(snakemake, stage, <input and output paths>)`. `run` adds what every job
needs and no stage should repeat: the rule's `params:` as keyword arguments
(a parameter annotated with a config section type, e.g. `train: Train`, arrives
validated as that type), logging into the rule's `log:` file, the rule's
threads for torch, and a user error (bad input, bad config) shown as one line
instead of a traceback buried in the log. So a rule is one hop from its logic,
and a stage reads exactly the config sections its rule declares.
"""

from __future__ import annotations

import inspect
import logging
import sys
import traceback
import typing
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from synth2real.config import Study, load
from synth2real.errors import ConfigError, Synth2RealError


def validate(config: dict[str, Any]) -> Study:
    """For the Snakefile: validate `config` in place (resolved paths) or stop with the reasons."""
    from synth2real.data.sources import check_classes

    try:
        cfg = load(config)
        check_classes(cfg)
    except Synth2RealError as e:
        sys.stderr.write(f"\nsynth2real: {e}\n\n")
        raise SystemExit(1) from None
    config.clear()
    config.update(cfg.model_dump(mode="json"))
    return cfg


def bind_params(fn: Callable[..., Any], params: dict[str, Any]) -> dict[str, Any]:
    """`params` as keyword arguments of `fn`, config sections validated into their annotated types."""
    hints = typing.get_type_hints(fn)
    accepted = inspect.signature(fn).parameters
    out = {}
    for name, value in params.items():
        if name not in accepted:
            raise ConfigError(f"rule params {name!r} is not an argument of {fn.__module__}.{fn.__name__}")
        hint = hints.get(name)
        is_section = isinstance(hint, type) and issubclass(hint, BaseModel)
        out[name] = hint.model_validate(value) if is_section and isinstance(value, dict) else value
    return out


def run(snakemake: Any, stage: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    """Call `stage(*args, **params, **kwargs)` for the job `snakemake`, logging to its log file."""
    log_path = snakemake.log[0] if len(snakemake.log) else None
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # Only stages that train or extract import torch (their module does, at the
    # top); the report stages must not pull it in just to set its threads.
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(max(1, int(snakemake.threads)))
    try:
        stage(*args, **bind_params(stage, dict(snakemake.params.items())), **kwargs)
    except Synth2RealError as e:
        logging.getLogger("synth2real").error("%s", e)
        sys.exit(1)
    except Exception:
        logging.getLogger("synth2real").error("step failed:\n%s", traceback.format_exc())
        raise
