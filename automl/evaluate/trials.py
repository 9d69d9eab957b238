"""A search trial's configuration, and what the trial leaves behind: status, fold scores and
out-of-fold predictions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

TRIAL_CONFIG_KEY = "trial"
"""The key of a trial's ``TrialConfig`` (as JSON) in Ray Tune's config."""


@dataclass(frozen=True)
class TrialConfig:
    """One configuration a search tries: a trainer, the backbone whose embeddings (or weights) it
    uses (None for tables and raw-input trainers), its hyperparameters, and its place in the order
    the configs were drawn. Crosses into Ray trials as JSON (``to_json``/``from_json``)."""

    index: int
    trainer: str
    params: Mapping[str, Any]
    backbone: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "trainer": self.trainer, "backbone": self.backbone, "params": dict(self.params)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrialConfig:
        return cls(int(data["index"]), str(data["trainer"]), dict(data["params"]), data.get("backbone") or None)


@dataclass
class TrialRecord:
    index: int
    trainer: str
    params: dict[str, Any]
    backbone: str | None
    status: str  # completed | stopped | failed
    score: float | None = None
    fold_scores: list[float] = field(default_factory=list)
    work_s: float | None = None  # seconds inside the trial function: loading plugins, fitting, scoring
    error: str | None = None
    oof: np.ndarray | None = None

    @classmethod
    def of(cls, config: TrialConfig, status: str, **outcome: Any) -> TrialRecord:
        """The record of ``config``'s trial."""
        return cls(config.index, config.trainer, dict(config.params), config.backbone, status, **outcome)

    @property
    def config(self) -> TrialConfig:
        return TrialConfig(self.index, self.trainer, self.params, self.backbone)
