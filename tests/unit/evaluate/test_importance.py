"""Permutation feature importance (``automl.evaluate.importance``): informative columns rank above
noise, for metrics in either direction, at the winner's decision threshold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl.builtin.metrics import register_metrics
from automl.evaluate.importance import N_REPEATS, permutation_importance

METRICS: dict = {}
register_metrics(register=lambda spec: METRICS.__setitem__(spec.name, spec))


def frame(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """``signal`` decides the label, ``weak`` helps a little, ``noise`` not at all."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = pd.DataFrame(
        {
            "noise": rng.normal(size=n),
            "weak": 0.3 * (2 * y - 1) + rng.normal(size=n),
            "signal": 2.0 * (2 * y - 1) + 0.5 * rng.normal(size=n),
        }
    )
    return X, y


def known_model(X: pd.DataFrame) -> np.ndarray:
    """P(class 1) from ``signal`` and ``weak`` only: shuffling ``noise`` changes nothing."""
    z = 2.0 * X["signal"].to_numpy() + 0.5 * X["weak"].to_numpy()
    p1 = 1.0 / (1.0 + np.exp(-z))
    return np.column_stack([1.0 - p1, p1])


@pytest.mark.parametrize("metric_name", ["accuracy", "roc_auc", "log_loss"])
def test_the_informative_column_ranks_first_and_an_unused_one_scores_zero(metric_name: str) -> None:
    """For log loss (lower is better) a useful column's shuffle raises the loss: its importance
    must still come out positive and first."""
    X, y = frame()
    rows = permutation_importance(known_model, X, y, METRICS[metric_name], None, seed=0)
    assert rows[0]["feature"] == "signal"
    by_name = {r["feature"]: r for r in rows}
    assert by_name["signal"]["importance"] > 0.1
    assert by_name["noise"]["importance"] == 0.0 and by_name["noise"]["std"] == 0.0


def test_a_fitted_model_ranks_signal_above_noise() -> None:
    from sklearn.linear_model import LogisticRegression

    X, y = frame(seed=1)
    model = LogisticRegression().fit(X.iloc[:200], y[:200])
    held_X, held_y = X.iloc[200:].reset_index(drop=True), y[200:]
    rows = permutation_importance(model.predict_proba, held_X, held_y, METRICS["accuracy"], None, seed=0)
    ranked = [r["feature"] for r in rows]
    assert ranked[0] == "signal"
    assert ranked.index("signal") < ranked.index("noise")
    assert rows[0]["importance"] > abs(float({r["feature"]: r for r in rows}["noise"]["importance"])) + 0.1


def test_rows_are_sorted_complete_and_the_input_is_untouched() -> None:
    X, y = frame()
    X.columns = ["noise", "weak", "signal"]
    before = X.copy()
    rows = permutation_importance(known_model, X, y, METRICS["roc_auc"], None, seed=3)
    assert sorted(r["feature"] for r in rows) == sorted(X.columns)
    assert all(set(r) == {"feature", "importance", "std"} for r in rows)
    importances = [float(r["importance"]) for r in rows]
    assert importances == sorted(importances, reverse=True)
    assert all(isinstance(r["importance"], float) and isinstance(r["std"], float) for r in rows)
    pd.testing.assert_frame_equal(X, before)


def test_the_same_seed_gives_the_same_importances() -> None:
    X, y = frame()
    metric = METRICS["log_loss"]
    first = permutation_importance(known_model, X, y, metric, None, seed=7)
    assert permutation_importance(known_model, X, y, metric, None, seed=7) == first
    assert permutation_importance(known_model, X, y, metric, None, seed=8) != first


def test_the_predictor_is_called_once_plus_repeats_per_column() -> None:
    X, y = frame(n=50)
    calls: list[int] = []

    def counting(frame: pd.DataFrame) -> np.ndarray:
        calls.append(len(frame))
        return known_model(frame)

    permutation_importance(counting, X, y, METRICS["accuracy"], None, seed=0)
    assert calls == [50] * (1 + N_REPEATS * X.shape[1])


def test_the_winners_threshold_is_used() -> None:
    """An under-confident model: P(1) stays below 0.5, so argmax says 0 for every row whatever the
    columns hold (every importance 0); at the winner's tuned threshold the signal matters."""
    X, y = frame()

    def shy(frame: pd.DataFrame) -> np.ndarray:
        p1 = 0.4 * known_model(frame)[:, 1]
        return np.column_stack([1.0 - p1, p1])

    accuracy = METRICS["accuracy"]
    at_argmax = permutation_importance(shy, X, y, accuracy, None, seed=0)
    assert all(r["importance"] == 0.0 for r in at_argmax)
    at_threshold = {r["feature"]: r["importance"] for r in permutation_importance(shy, X, y, accuracy, 0.2, seed=0)}
    assert at_threshold["signal"] > 0.2
    assert at_threshold["noise"] == 0.0
