"""Decision-threshold tuning (``automl.evaluate.scoring.tune_threshold``) for metrics where lower is
better: the threshold chosen must minimise the metric, not maximise it."""

from __future__ import annotations

import numpy as np
import pytest

from automl.builtin.metrics import register_metrics
from automl.evaluate.leaderboard import build_leaderboard
from automl.evaluate.scoring import decide, fold_scores, score, tune_threshold
from automl.evaluate.trials import TrialRecord
from automl.plugins.api import MetricSpec

METRICS: dict = {}
register_metrics(register=lambda spec: METRICS.__setitem__(spec.name, spec))


def error_rate(y: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(np.asarray(y) != np.asarray(y_pred)))


def costly_misses(y: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean cost: a missed positive costs 5, a false alarm 1."""
    y, y_pred = np.asarray(y), np.asarray(y_pred)
    return float(np.mean(5.0 * ((y == 1) & (y_pred == 0)) + 1.0 * ((y == 0) & (y_pred == 1))))


def _labels_metric(name: str, fn) -> MetricSpec:
    return MetricSpec(
        name=name,
        score=lambda y, proba: fn(y, np.asarray(proba).argmax(axis=1)),
        score_labels=fn,
        greater_is_better=False,
    )


ERROR = _labels_metric("error_rate", error_rate)
COST = _labels_metric("cost", costly_misses)


def binary(p1: np.ndarray) -> np.ndarray:
    p1 = np.asarray(p1, dtype=float)
    return np.column_stack([1.0 - p1, p1])


def shifted_scores(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """An under-confident model: positives get P(1) in [0.15, 0.35], negatives in [0.0, 0.2], so
    argmax calls everything 0 and the best threshold lies near 0.2, far from 0.5 (and far from
    where the metric is largest)."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(np.int64)
    p1 = np.where(y == 1, rng.uniform(0.15, 0.35, n), rng.uniform(0.0, 0.2, n))
    return y, binary(p1)


def best_over_candidates(metric: MetricSpec, y: np.ndarray, proba: np.ndarray) -> float:
    """The best score any threshold from the tuner's own grid (quantiles and 0.5) reaches."""
    grid = [0.5, *np.unique(np.quantile(proba[:, 1], np.linspace(0.01, 0.99, 99)))]
    values = [score(metric, y, proba, float(t)) for t in grid]
    return min(values) if not metric.greater_is_better else max(values)


@pytest.mark.parametrize("metric", [ERROR, COST], ids=lambda m: m.name)
def test_a_lower_is_better_metric_gets_the_threshold_that_minimises_it(metric: MetricSpec) -> None:
    y, proba = shifted_scores()
    t = tune_threshold(metric, y, proba)
    assert t is not None
    tuned = score(metric, y, proba, t)
    at_half = score(metric, y, proba, 0.5)
    assert tuned == pytest.approx(best_over_candidates(metric, y, proba))
    assert tuned < at_half  # 0.5 calls every example 0
    assert 0.1 < t < 0.3
    # a maximiser would have picked the worst threshold instead: make sure that one is worse
    grid = np.unique(np.quantile(proba[:, 1], np.linspace(0.01, 0.99, 99)))
    assert max(score(metric, y, proba, float(g)) for g in grid) > tuned + 0.1


def test_the_error_rate_threshold_is_the_accuracy_threshold() -> None:
    """Error rate is 1 - accuracy: minimising one is maximising the other, at the same point."""
    y, proba = shifted_scores(seed=3)
    t_err = tune_threshold(ERROR, y, proba)
    t_acc = tune_threshold(METRICS["accuracy"], y, proba)
    assert t_err == t_acc
    assert score(ERROR, y, proba, t_err) == pytest.approx(1.0 - score(METRICS["accuracy"], y, proba, t_acc))


def test_an_asymmetric_cost_moves_the_threshold_down() -> None:
    """Missed positives cost 5x false alarms: the cost-minimising threshold is no higher than the
    error-minimising one, and it misses fewer positives."""
    rng = np.random.default_rng(1)
    y = (rng.uniform(size=400) < 0.4).astype(np.int64)
    p1 = np.clip(0.4 * y + rng.normal(0.3, 0.15, 400), 0.0, 1.0)  # overlapping classes
    proba = binary(p1)
    t_cost = tune_threshold(COST, y, proba)
    t_err = tune_threshold(ERROR, y, proba)
    assert t_cost is not None and t_err is not None
    assert t_cost < t_err
    misses = lambda t: int(np.sum((y == 1) & (decide(proba, t) == 0)))  # noqa: E731
    assert misses(t_cost) < misses(t_err)
    assert score(COST, y, proba, t_cost) == pytest.approx(best_over_candidates(COST, y, proba))


def test_when_half_is_already_best_the_threshold_stays_half() -> None:
    y = np.array([0, 0, 0, 1, 1, 1])
    proba = binary(np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9]))
    assert tune_threshold(ERROR, y, proba) == 0.5


def test_no_threshold_without_labels_or_for_more_than_two_classes() -> None:
    y, proba = shifted_scores()
    assert tune_threshold(METRICS["log_loss"], y, proba) is None  # scores probabilities
    three = np.column_stack([proba * 0.5, np.full(len(y), 0.5)])
    assert tune_threshold(ERROR, y, three) is None


def test_the_leaderboard_scores_folds_at_the_tuned_threshold_and_ranks_lowest_first() -> None:
    y, proba = shifted_scores()
    folds = np.arange(len(y)) % 4
    rng = np.random.default_rng(5)
    noisy = binary(rng.uniform(size=len(y)))  # no signal at any threshold
    trials = [
        TrialRecord(0, "noise", {}, None, "completed", oof=noisy),
        TrialRecord(1, "shifted", {}, None, "completed", oof=proba),
    ]
    board = build_leaderboard(trials, y, folds, ERROR, tune_thresholds=True, ensemble_rounds=None)
    assert [c.name for c in board] == ["t001", "t000"]
    best = board[0]
    assert best.threshold == tune_threshold(ERROR, y, proba)
    assert best.fold_scores == fold_scores(ERROR, y, proba, folds, best.threshold)
    assert best.score < 0.5 * score(ERROR, y, proba)  # far better than at argmax
    untuned = build_leaderboard(trials, y, folds, ERROR, tune_thresholds=False, ensemble_rounds=None)
    assert all(c.threshold is None for c in untuned)
    assert {c.name: c.score for c in untuned}["t001"] == pytest.approx(0.5)  # argmax: every example 0
