"""Training on synthetic + pseudo-labeled real features with a fixed real:synthetic ratio per minibatch.

Plain concatenation (the study's adaptation) lets the pool's share of each
minibatch follow its share of the data. The mixed-reality literature instead
fixes it: 1 real image per `ratio` synthetic ones in *every* minibatch
(1:1, 1:7, 1:15). One epoch is one pass over the synthetic set; the real
images cycle through reshuffled passes of their own.
"""

from __future__ import annotations

import numpy as np

from synth2real.model import stacked


def split_batch(batch_size: int, ratio: int) -> tuple[int, int]:
    """(real, synthetic) images per minibatch for real:synthetic = 1:ratio; at least one real."""
    real = max(1, round(batch_size / (1 + ratio)))
    return real, max(1, batch_size - real)


def mixed(n_synthetic: int, n_real: int, ratio: int, batch_size: int) -> stacked.Plan:
    """One model's epochs of mixed minibatches over its members: the synthetic examples are
    positions [0, n_synthetic), the real ones the n_real after them.

    The model's stream draws the first pass over the real images, then per epoch the
    synthetic order, and a new real pass whenever the current one runs out; the plan
    keeps its place among the real images across epochs (so use one plan per model).
    Fewer real images than a minibatch's share (a budget of 1 photo per class) fill it
    cycled: as many fresh passes back to back as it takes, so the ratio holds.
    """
    if n_real == 0:
        raise ValueError("mixing needs at least one real image (pseudo-labeled or labeled)")
    n_r, n_s = split_batch(batch_size, ratio)
    state: dict[str, object] = {}

    def passes(stream: stacked.Stream) -> np.ndarray:
        return np.concatenate([stream.permutation(n_real) for _ in range(-(-n_r // n_real))])

    def plan(stream: stacked.Stream) -> list[stacked.Step]:
        if not state:
            state.update(order=passes(stream), pos=0)
        order = stream.permutation(n_synthetic)
        steps = []
        for i in range(0, n_synthetic, n_s):
            if state["pos"] + n_r > len(state["order"]):  # type: ignore[arg-type,operator]
                state.update(order=passes(stream), pos=0)
            pos = state["pos"]
            real = state["order"][pos:pos + n_r] + n_synthetic  # type: ignore[index]
            steps.append(stacked.Step(np.concatenate([order[i:i + n_s], real])))
            state["pos"] = pos + n_r  # type: ignore[operator]
        return steps
    return plan
