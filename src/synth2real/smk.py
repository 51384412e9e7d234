"""The workflow's two entry points into the package: config validation and calling a stage.

A rule's script is two lines: import the stage function, then
`run(snakemake, stage)`. `run` hands the stage the job's named inputs, outputs
and params as keyword arguments, each by its name in the rule -- never by
position -- typed by the stage's annotations: an `ImageSet` parameter takes the
rule's `name=[manifest.csv, features.npz]`, a config section type (e.g.
`train: Train`) a validated section, `str` one path, `list[str]` several. Every
named input, output and param must be a parameter of the stage and every
parameter without a default must be named by the rule, so a file the rule lists
but the stage ignores fails at once. Wildcards and named logs are handed to a
stage that has a parameter of their name. `run` also does what every job needs
and no stage should repeat: logging into the rule's `log:` file, the rule's
threads for torch, and a user error (bad input, bad config) shown as one line
instead of a traceback buried in the log. So a rule is one hop from its logic,
and a stage reads exactly what its rule declares.
"""

from __future__ import annotations

import inspect
import logging
import sys
import traceback
import typing
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter

from synth2real.config import Study, load
from synth2real.data.imagesets import ImageSet
from synth2real.errors import ConfigError, Synth2RealError

# Where a job's named values come from; the first three must all be stage parameters.
DECLARED = ("input", "output", "params")
OPTIONAL = ("wildcards", "log")


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


def _named(items: Any) -> dict[str, Any]:
    """The named entries of one of a job's Snakemake namedlists (or of a plain mapping)."""
    return dict(items.items()) if hasattr(items, "items") else {}


def _coerce(hint: Any, value: Any, name: str) -> Any:
    """`value` as the annotation `hint` of the parameter `name` asks (validated by pydantic:
    a config section from its dict, `list[str]` from a rule's file list, ...)."""
    if hint is ImageSet:
        return ImageSet.of(name, [str(v) for v in value])
    if hint is str and not isinstance(value, str):
        if len(value) != 1:
            raise ConfigError(f"{name!r} names one file in the stage, but the rule gives "
                              f"{len(value)}: {list(value)}")
        return str(value[0])
    if typing.get_origin(hint) is list and typing.get_args(hint) == (str,) and isinstance(value, str):
        return [value]
    if hint in (None, Any, range):
        return value
    return TypeAdapter(hint).validate_python(value)


def bind(stage: Callable[..., Any], job: Any) -> dict[str, Any]:
    """Keyword arguments of `stage` for the Snakemake job `job` (see the module doc)."""
    params = inspect.signature(stage).parameters
    hints = typing.get_type_hints(stage)
    where = f"{stage.__module__}.{stage.__name__}"
    found: dict[str, tuple[str, Any]] = {}
    for kind in (*DECLARED, *OPTIONAL):
        for name, value in _named(getattr(job, kind, {})).items():
            if kind in OPTIONAL and name not in params:
                continue
            if name in found:
                raise ConfigError(f"rule {getattr(job, 'rule', '?')}: {name!r} is both a "
                                  f"{found[name][0]} and a {kind}; rename one")
            if name not in params:
                raise ConfigError(f"rule {getattr(job, 'rule', '?')}: {kind} {name!r} is not an "
                                  f"argument of {where}")
            found[name] = (kind, value)
    missing = [n for n, p in params.items() if n not in found and p.default is p.empty
               and p.kind is not p.VAR_KEYWORD]
    if missing:
        raise ConfigError(f"rule {getattr(job, 'rule', '?')} names no input, output, param or "
                          f"wildcard {missing} that {where} needs")
    return {name: _coerce(hints.get(name), value, name) for name, (_, value) in found.items()}


def run(snakemake: Any, stage: Callable[..., None]) -> None:
    """Call `stage(**bind(stage, snakemake))` for the job `snakemake`, logging to its log file."""
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
        stage(**bind(stage, snakemake))
    except Synth2RealError as e:
        logging.getLogger("synth2real").error("%s", e)
        sys.exit(1)
    except Exception:
        logging.getLogger("synth2real").error("step failed:\n%s", traceback.format_exc())
        raise
