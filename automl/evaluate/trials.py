"""What a search trial leaves behind: its config, status, fold scores and out-of-fold predictions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


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
