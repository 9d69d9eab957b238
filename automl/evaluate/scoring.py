"""Scores of probabilities against class indices: per fold, with an optional binary threshold."""

from __future__ import annotations

import numpy as np

from automl.plugins.components import MetricSpec


def decide(proba: np.ndarray, threshold: float | None) -> np.ndarray:
    """Class indices: argmax, or for binary with a threshold, 1 where P(class 1) >= threshold."""
    if threshold is not None and proba.shape[1] == 2:
        return (proba[:, 1] >= threshold).astype(np.int64)
    return proba.argmax(axis=1)


def score(metric: MetricSpec, y: np.ndarray, proba: np.ndarray, threshold: float | None = None) -> float:
    assert metric.score is not None
    if threshold is not None and metric.score_labels is not None:
        return metric.score_labels(y, decide(proba, threshold))
    return metric.score(y, proba)


def fold_scores(
    metric: MetricSpec, y: np.ndarray, proba: np.ndarray, folds: np.ndarray, threshold: float | None = None
) -> list[float]:
    """The metric on each fold's out-of-fold predictions."""
    return [score(metric, y[folds == k], proba[folds == k], threshold) for k in np.unique(folds)]


def tune_threshold(metric: MetricSpec, y: np.ndarray, proba: np.ndarray) -> float | None:
    """The decision threshold on P(class 1) that scores best on these out-of-fold predictions.

    Only for binary tasks and label-based metrics; None otherwise (argmax is used).
    """
    if proba.shape[1] != 2 or metric.score_labels is None:
        return None
    cutoffs = np.unique(np.quantile(proba[:, 1], np.linspace(0.01, 0.99, 99)))
    best_t, best = 0.5, score(metric, y, proba, 0.5)
    for t in cutoffs:
        s = score(metric, y, proba, float(t))
        if metric.better(s, best):
            best_t, best = float(t), s
    return best_t
