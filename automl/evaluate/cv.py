"""Cross-validation of one trainer configuration: out-of-fold probabilities, fold by fold."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from automl.plugins.components import TrainContext, TrainerSpec

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class TabularData:
    """What every trial needs: features, class indices, folds and the training context."""

    features: pd.DataFrame
    y: np.ndarray
    folds: np.ndarray
    context: TrainContext


def fit_estimator(trainer: TrainerSpec, config: Any, ctx: TrainContext, X: Any, y: np.ndarray) -> Any:
    assert trainer.build is not None
    estimator = trainer.build(config, ctx)
    estimator.fit(X, y)
    return estimator


def predict_proba(estimator: Any, X: Any, n_classes: int) -> np.ndarray:
    """Probabilities with one column per class even when a fold lacked a class in training."""
    proba = np.asarray(estimator.predict_proba(X), dtype=np.float64)
    if proba.shape[1] == n_classes:
        return proba
    full = np.zeros((proba.shape[0], n_classes))
    full[:, np.asarray(estimator.classes_, dtype=int)] = proba
    return full


def cross_validate(trainer: TrainerSpec, config: Any, data: TabularData) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(fold, oof)`` after each fold; ``oof`` holds every fold done so far."""
    n_classes = data.context.n_classes
    oof = np.full((len(data.y), n_classes), np.nan)
    for k in range(int(data.folds.max()) + 1):
        train, valid = data.folds != k, data.folds == k
        est = fit_estimator(trainer, config, data.context, data.features[train], data.y[train])
        oof[valid] = predict_proba(est, data.features[valid], n_classes)
        yield k, oof
