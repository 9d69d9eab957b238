"""Permutation feature importance of the winner on held-out rows (fold 0).

The winner is fitted once more without fold 0; each feature column of (a sample of) fold 0 is
shuffled a few times and the drop in the metric is its importance.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from automl.evaluate.scoring import score
from automl.plugins.components import MetricSpec

N_REPEATS = 3


def permutation_importance(
    predict_proba: Callable[[Any], np.ndarray],
    X: Any,
    y: np.ndarray,
    metric: MetricSpec,
    threshold: float | None,
    seed: int,
) -> list[dict[str, float | str]]:
    """Rows ``{feature, importance, std}`` sorted by importance, most important first."""
    rng = np.random.default_rng(seed)
    base = score(metric, y, predict_proba(X), threshold)
    sign = 1.0 if metric.greater_is_better else -1.0
    rows: list[dict[str, float | str]] = []
    for column in X.columns:
        drops = []
        for _ in range(N_REPEATS):
            shuffled = X.copy()
            shuffled[column] = X[column].to_numpy()[rng.permutation(len(X))]
            drops.append(sign * (base - score(metric, y, predict_proba(shuffled), threshold)))
        rows.append({"feature": str(column), "importance": float(np.mean(drops)), "std": float(np.std(drops))})
    return sorted(rows, key=lambda r: -float(r["importance"]))
