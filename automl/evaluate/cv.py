"""Cross-validation of one trainer configuration: out-of-fold probabilities, fold by fold."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from automl.plugins.components import TrainContext, TrainerSpec


@dataclass(frozen=True)
class TrialData:
    """What every trial needs: each view of the examples with its context, labels and folds."""

    views: Mapping[str, Any]
    contexts: Mapping[str, TrainContext]
    y: np.ndarray
    folds: np.ndarray


def rows(X: Any, mask: np.ndarray) -> Any:
    """The rows of a view selected by a boolean mask (DataFrame or array)."""
    return X[mask] if not hasattr(X, "iloc") else X.loc[mask]


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


def one_blas_thread() -> Any:
    """A context in which BLAS (OpenBLAS, MKL) runs one thread: in the driver's fits of small
    models (a retrain's configurations, the gate's), BLAS threads cost more than they give
    (a logistic regression on 6,000 rows measured 4x slower with two threads here, 26x when two
    runs share the machine). Trainers' own threads (LightGBM's OpenMP, torch's) are left alone."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, user_api="blas")


def cross_validate(
    trainer: TrainerSpec, config: Any, X: Any, ctx: TrainContext, y: np.ndarray, folds: np.ndarray
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(fold, oof)`` after each fold; ``oof`` holds every fold done so far."""
    oof = np.full((len(y), ctx.n_classes), np.nan)
    for k in range(int(folds.max()) + 1):
        train, valid = folds != k, folds == k
        est = fit_estimator(trainer, config, ctx, rows(X, train), y[train])
        oof[valid] = predict_proba(est, rows(X, valid), ctx.n_classes)
        yield k, oof
