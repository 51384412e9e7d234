"""`make fetch-weights`: fill the weight caches once (needs network) so later runs need none.

For the given config this downloads

- the generator pipeline (`synthetic.source.kind: diffusers`) into the
  Hugging Face cache, `$HF_HOME/hub` (default `~/.cache/huggingface/hub`);
- the backbone's torchvision ImageNet weights (`backbone.weights.kind:
  torchvision`) into `$TORCH_HOME/hub/checkpoints` (default `~/.cache/torch`).

Afterwards `HF_HUB_OFFLINE=1 make reproduce` runs without touching the network
for weights; copy both cache folders to move them to an air-gapped machine.

    python -m synth2real.tools.fetch_weights --config config/paper.yaml
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from synth2real.config import DiffusersGenerator, TorchvisionWeights, load_file
from synth2real.data import sources
from synth2real.data.generate.weights import hf_cache, resolve_model
from synth2real.errors import Synth2RealError


def fetch(config: str, bundle: str | None = None) -> list[str]:
    """Download what `config` needs into the caches; returns one line per item."""
    cfg = load_file(config, {"bundle": bundle} if bundle else None)
    done = []
    gen = cfg.synthetic.source
    if isinstance(gen, DiffusersGenerator):
        m = resolve_model(gen.model_id, gen.revision, download=True)
        where = m.path if m.commit == "local" else f"{hf_cache()} (commit {m.commit})"
        done.append(f"generator {m.model_id}@{m.revision}: {where}")
    if isinstance(cfg.backbone.weights, TorchvisionWeights):
        info = sources.resolve_weights(cfg.backbone.weights)
        done.append(f"backbone {info['origin']}: {info['path']}")
    return done


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="config/paper.yaml")
    parser.add_argument("--bundle", default=None, help="offline bundle folder, for {bundle} paths")
    args = parser.parse_args(list(argv))
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        lines = fetch(args.config, args.bundle)
    except Synth2RealError as e:
        sys.stderr.write(f"fetch-weights: {e}\n")
        raise SystemExit(1) from None
    for line in lines or ["nothing to fetch: this config downloads no weights"]:
        print(f"cached: {line}")
    print("Later runs can set HF_HUB_OFFLINE=1 (same HF_HOME and TORCH_HOME).")


if __name__ == "__main__":
    main(sys.argv[1:])
