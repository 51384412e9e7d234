"""Glue between Snakemake `script:` wrappers and the package.

`run(snakemake, step)` gives every wrapper the same behaviour: the validated
config, logging into the rule's `log:` file, threads from Snakemake, and a
user error (bad input, bad config) shown as one line on the console instead
of a traceback buried in the log.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from typing import Any

from synth2real.config import Study, load
from synth2real.errors import Synth2RealError


def validate(config: dict[str, Any]) -> Study:
    """For the Snakefile: validate `config` in place (resolved paths) or stop with the reasons."""
    from synth2real.sources import check_classes

    try:
        cfg = load(config)
        check_classes(cfg)
    except Synth2RealError as e:
        sys.stderr.write(f"\nsynth2real: {e}\n\n")
        raise SystemExit(1) from None
    config.clear()
    config.update(cfg.model_dump(mode="json"))
    return cfg


def run(snakemake: Any, step: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    """Call `step(cfg, *args, **kwargs)` with logging to the rule's log file."""
    log_path = snakemake.log[0] if len(snakemake.log) else None
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    import torch

    torch.set_num_threads(max(1, int(snakemake.threads)))
    try:
        step(load(snakemake.config), *args, **kwargs)
    except Synth2RealError as e:
        logging.getLogger("synth2real").error("%s", e)
        sys.exit(1)
    except Exception:
        logging.getLogger("synth2real").error("step failed:\n%s", traceback.format_exc())
        raise
