"""smk.run's binding: a rule's params become keyword arguments, config sections typed."""

from __future__ import annotations

import pytest

from synth2real.config import Train
from synth2real.errors import ConfigError
from synth2real.smk import bind_params


def stage(out: str, *, train: Train, seeds: list[int]) -> None:
    """A stage reading one config section and one plain value."""


def test_sections_arrive_validated_and_plain_values_as_given():
    kw = bind_params(stage, {"train": {"epochs": 3}, "seeds": [0, 1]})
    assert isinstance(kw["train"], Train) and kw["train"].epochs == 3 and kw["train"].lr == 1e-3
    assert kw["seeds"] == [0, 1]


def test_a_param_the_stage_does_not_read_is_an_error():
    with pytest.raises(ConfigError, match="'extra' is not an argument of .*stage"):
        bind_params(stage, {"train": {}, "seeds": [0], "extra": 1})


def test_a_bad_section_value_is_rejected():
    with pytest.raises(ValueError, match="epochs"):
        bind_params(stage, {"train": {"epochs": 0}, "seeds": [0]})
