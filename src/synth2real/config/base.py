"""The strict base of every config model: unknown keys are errors, values are frozen."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    # Unknown keys are typos until proven otherwise: reject them by name.
    model_config = ConfigDict(extra="forbid", frozen=True)
