"""Greedy ensemble selection (``automl.evaluate.ensemble``) on hand-built out-of-fold predictions,
and the ensemble candidate it gives the leaderboard."""

from __future__ import annotations

import numpy as np
import pytest

from automl.builtin.metrics import register_metrics
from automl.evaluate.ensemble import EnsembleChoice, select_ensemble
from automl.evaluate.leaderboard import build_leaderboard
from automl.evaluate.scoring import score
from automl.evaluate.trials import TrialRecord

METRICS: dict = {}
register_metrics(register=lambda spec: METRICS.__setitem__(spec.name, spec))
ACCURACY = METRICS["accuracy"]
LOG_LOSS = METRICS["log_loss"]


def binary(p_class1: np.ndarray) -> np.ndarray:
    """Probabilities of classes 0 and 1 from P(class 1)."""
    p = np.asarray(p_class1, dtype=float)
    return np.column_stack([1.0 - p, p])


def from_p_correct(y: np.ndarray, p_correct: np.ndarray) -> np.ndarray:
    """Binary probabilities that give the true class ``p_correct``."""
    return binary(np.where(y == 1, p_correct, 1.0 - p_correct))


# 8 examples; A is confidently right on the first half and slightly wrong on the second, B the
# mirror image: each alone is right half of the time, their average is right everywhere.
Y = np.array([0, 1, 0, 1, 0, 1, 0, 1])
HALF = np.arange(8) < 4
A = from_p_correct(Y, np.where(HALF, 0.9, 0.4))
B = from_p_correct(Y, np.where(HALF, 0.4, 0.9))


def test_two_complementary_models_share_the_weight_and_beat_each_alone() -> None:
    assert score(ACCURACY, Y, A) == 0.5 and score(ACCURACY, Y, B) == 0.5
    choice = select_ensemble(ACCURACY, Y, [A, B], rounds=2)
    assert choice.members == (0, 1)
    assert choice.weights == pytest.approx((0.5, 0.5))
    blended = choice.blend([A, B])
    np.testing.assert_allclose(blended, 0.5 * A + 0.5 * B)
    assert score(ACCURACY, Y, blended) == 1.0


def test_one_dominant_model_gets_all_the_weight() -> None:
    """Every addition of another model raises the log loss: all rounds take the dominant one."""
    good = from_p_correct(Y, np.full(8, 0.9))
    poor = from_p_correct(Y, np.where(HALF, 0.6, 0.3))
    worse = from_p_correct(Y, np.full(8, 0.2))
    choice = select_ensemble(LOG_LOSS, Y, [poor, good, worse], rounds=7)
    assert choice == EnsembleChoice(members=(1,), weights=(1.0,))
    np.testing.assert_allclose(choice.blend([poor, good, worse]), good)
    # accuracy: with two rounds, any partner of the perfect model makes every answer wrong
    wrong = from_p_correct(Y, np.full(8, 0.05))
    assert select_ensemble(ACCURACY, Y, [wrong, good, wrong], rounds=2) == EnsembleChoice((1,), (1.0,))


@pytest.mark.parametrize("metric_name", ["accuracy", "log_loss"])
def test_one_round_picks_the_best_single_model(metric_name: str) -> None:
    """A first round is the best single model by the metric's own direction (log loss: lowest)."""
    metric = METRICS[metric_name]
    # P(correct) per example; the best model is listed in the middle so neither "first" nor "last"
    # wins by accident. Accuracies 5/8, 6/8, 8/8, 4/8, 0/8; the third also has the lowest log loss.
    candidates = [
        from_p_correct(Y, np.array([0.9] * 5 + [0.1] * 3)),
        from_p_correct(Y, np.array([0.8] * 6 + [0.3] * 2)),
        from_p_correct(Y, np.full(8, 0.95)),
        from_p_correct(Y, np.array([0.7] * 4 + [0.4] * 4)),
        from_p_correct(Y, np.full(8, 0.35)),
    ]
    scores = [score(metric, Y, c) for c in candidates]
    best = int(np.argmax(scores) if metric.greater_is_better else np.argmin(scores))
    assert best == 2
    assert select_ensemble(metric, Y, candidates, rounds=1) == EnsembleChoice((2,), (1.0,))


def test_log_loss_ensembles_lower_the_loss_not_raise_it() -> None:
    """For a lower-is-better metric each round must take the member that lowers the loss."""
    a = from_p_correct(Y, np.where(HALF, 0.95, 0.3))  # the best alone
    b = from_p_correct(Y, np.where(HALF, 0.3, 0.9))  # a's complement
    hedge = from_p_correct(Y, np.full(8, 0.5))
    losses = [score(LOG_LOSS, Y, p) for p in (a, b, hedge)]
    assert losses[0] < losses[1] < losses[2]
    choice = select_ensemble(LOG_LOSS, Y, [hedge, b, a], rounds=2)
    assert choice.members == (1, 2) and choice.weights == pytest.approx((0.5, 0.5))
    assert score(LOG_LOSS, Y, choice.blend([hedge, b, a])) < min(losses) - 0.1


@pytest.mark.parametrize("seed", range(5))
def test_weights_sum_to_one_and_count_rounds(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, 40)
    oofs = [rng.dirichlet(np.ones(3), size=40) for _ in range(6)]
    rounds = 9
    choice = select_ensemble(ACCURACY, y, oofs, rounds)
    assert sum(choice.weights) == pytest.approx(1.0)
    assert list(choice.members) == sorted(set(choice.members))
    assert all(0 <= m < len(oofs) for m in choice.members)
    # with replacement: every weight is a whole number of rounds out of ``rounds``
    np.testing.assert_allclose(np.array(choice.weights) * rounds, np.round(np.array(choice.weights) * rounds))
    blended = choice.blend(oofs)
    np.testing.assert_allclose(blended.sum(axis=1), 1.0)  # a blend of distributions is a distribution
    # two rounds can never be worse than the best single model (the second round may repeat it)
    two = select_ensemble(ACCURACY, y, oofs, 2)
    assert score(ACCURACY, y, two.blend(oofs)) >= max(score(ACCURACY, y, o) for o in oofs)


def test_the_inputs_are_not_modified() -> None:
    oofs = [A.copy(), B.copy()]
    select_ensemble(ACCURACY, Y, oofs, rounds=3)
    np.testing.assert_array_equal(oofs[0], A)
    np.testing.assert_array_equal(oofs[1], B)


def _trial(index: int, trainer: str, oof: np.ndarray) -> TrialRecord:
    return TrialRecord(index, trainer, {"i": index}, None, "completed", oof=oof)


def test_the_leaderboard_ranks_an_ensemble_of_complementary_trials_first() -> None:
    folds = np.arange(8) % 2
    trials = [_trial(0, "logistic_regression", A), _trial(1, "random_forest", B)]
    board = build_leaderboard(trials, Y, folds, ACCURACY, tune_thresholds=False, ensemble_rounds=4)
    assert [c.name for c in board] == ["ensemble", "t000", "t001"]
    ensemble = board[0]
    assert ensemble.score == 1.0 and ensemble.trainer == "ensemble"
    assert sorted(m.trainer for m in ensemble.members) == ["logistic_regression", "random_forest"]
    assert sum(m.weight for m in ensemble.members) == pytest.approx(1.0)
    assert [m["params"] for m in ensemble.params["members"]] == [{"i": 0}, {"i": 1}]


def test_no_ensemble_candidate_when_one_trial_takes_all_the_weight() -> None:
    folds = np.arange(8) % 2
    good = from_p_correct(Y, np.full(8, 0.9))
    trials = [_trial(0, "logistic_regression", from_p_correct(Y, np.full(8, 0.3))), _trial(1, "random_forest", good)]
    board = build_leaderboard(trials, Y, folds, ACCURACY, tune_thresholds=False, ensemble_rounds=5)
    assert [c.name for c in board] == ["t001", "t000"]
    # nor when there is no ensemble round, or a single trial
    assert "ensemble" not in [
        c.name for c in build_leaderboard([_trial(0, "x", A), _trial(1, "y", B)], Y, folds, ACCURACY, False, None)
    ]
    assert [c.name for c in build_leaderboard([_trial(0, "x", A)], Y, folds, ACCURACY, False, 5)] == ["t000"]


def test_the_leaderboard_puts_the_lowest_log_loss_first() -> None:
    folds = np.arange(8) % 2
    trials = [
        _trial(0, "a", from_p_correct(Y, np.full(8, 0.6))),
        _trial(1, "b", from_p_correct(Y, np.full(8, 0.9))),
        _trial(2, "c", from_p_correct(Y, np.full(8, 0.7))),
    ]
    board = build_leaderboard(trials, Y, folds, LOG_LOSS, tune_thresholds=True, ensemble_rounds=None)
    assert [c.name for c in board] == ["t001", "t002", "t000"]
    assert board[0].score < board[1].score < board[2].score
    assert all(c.threshold is None for c in board)  # log loss scores probabilities: no threshold
