"""Greedy weighted ensemble selection on out-of-fold predictions (Caruana et al., 2004), as
AutoGluon and auto-sklearn do: add, with replacement, the member that most improves the score."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from automl.evaluate.scoring import score
from automl.plugins.components import MetricSpec


@dataclass(frozen=True)
class EnsembleChoice:
    """Members (indices into the leaderboard's entries) with their weights, summing to 1."""

    members: tuple[int, ...]
    weights: tuple[float, ...]

    def blend(self, oofs: Sequence[np.ndarray]) -> np.ndarray:
        return sum(w * oofs[m] for m, w in zip(self.members, self.weights, strict=True))  # type: ignore[return-value]


def select_ensemble(metric: MetricSpec, y: np.ndarray, oofs: Sequence[np.ndarray], rounds: int) -> EnsembleChoice:
    picks: list[int] = []
    total = np.zeros_like(oofs[0])
    for _ in range(rounds):
        best_i, best_s = -1, None
        for i, oof in enumerate(oofs):
            s = score(metric, y, (total + oof) / (len(picks) + 1))
            if best_s is None or metric.better(s, best_s):
                best_i, best_s = i, s
        picks.append(best_i)
        total += oofs[best_i]
    counts = Counter(picks)
    members = tuple(sorted(counts))
    return EnsembleChoice(members, tuple(counts[m] / len(picks) for m in members))
