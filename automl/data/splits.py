"""Stratified k-fold assignment: the fold of every example, fixed by the seed."""

from __future__ import annotations

import numpy as np


def stratified_folds(y: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """An array giving each row's validation fold, 0..n_folds-1."""
    from sklearn.model_selection import StratifiedKFold

    folds = np.empty(len(y), dtype=np.int64)
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for k, (_, valid) in enumerate(splitter.split(np.zeros(len(y)), y)):
        folds[valid] = k
    return folds
