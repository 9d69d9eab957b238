import numpy as np
import pytest

from automl.builtin.metrics import register_metrics
from automl.evaluate.comparison import NON_INFERIORITY, SUPERIORITY, Scored, paired_bootstrap

METRICS: dict = {}
register_metrics(register=lambda spec: METRICS.__setitem__(spec.name, spec))


def predictions(y: np.ndarray, accuracy: float, seed: int) -> np.ndarray:
    """Binary probabilities right on about ``accuracy`` of the examples."""
    rng = np.random.default_rng(seed)
    right = rng.random(len(y)) < accuracy
    label = np.where(right, y, 1 - y)
    p1 = np.where(label == 1, 0.8, 0.2)
    return np.column_stack([1 - p1, p1])


Y = np.random.default_rng(0).integers(0, 2, 2000)


def compare(
    candidate: np.ndarray,
    production: np.ndarray,
    metric: str = "accuracy",
    margin: float = 0.0,
    rule: str = SUPERIORITY,
):
    scored = Scored(candidate, None), Scored(production, None)
    return paired_bootstrap(METRICS[metric], Y, *scored, margin, 0.9, 300, 0, rule)


def test_a_clearly_better_candidate_wins_and_a_worse_one_does_not() -> None:
    good, bad = predictions(Y, 0.9, 1), predictions(Y, 0.8, 2)
    better = compare(good, bad)
    assert better.passed and better.improvement == pytest.approx(better.candidate - better.production)
    assert better.low > 0 and better.share_better > 0.99 and better.examples == 2000
    worse = compare(bad, good)
    assert not worse.passed and worse.share_better < 0.01


def test_identical_predictions_never_win_and_the_margin_is_required() -> None:
    same = predictions(Y, 0.85, 3)
    assert not compare(same, same).passed and compare(same, same).share_better == 0.0
    slightly = predictions(Y, 0.86, 4)
    assert not compare(slightly, predictions(Y, 0.85, 4), margin=0.05).passed


def test_lower_is_better_metrics_count_a_lower_loss_as_an_improvement() -> None:
    good, bad = predictions(Y, 0.95, 5), predictions(Y, 0.7, 6)
    result = compare(good, bad, "log_loss")
    assert result.passed and result.improvement > 0 and result.candidate < result.production


def test_mismatched_predictions_are_refused() -> None:
    with pytest.raises(ValueError, match="same, non-empty set"):
        paired_bootstrap(METRICS["accuracy"], Y, Scored(Y[:5, None], None), Scored(Y[:, None], None), 0, 0.9, 10, 0)


def test_on_changed_data_an_equal_model_passes_and_a_worse_one_does_not() -> None:
    same = predictions(Y, 0.85, 7)
    assert compare(same, same, margin=0.005, rule=NON_INFERIORITY).passed
    assert not compare(same, same, margin=0.005).passed  # superiority: nothing to gain
    worse = compare(predictions(Y, 0.80, 8), predictions(Y, 0.85, 8), margin=0.005, rule=NON_INFERIORITY)
    assert not worse.passed and worse.share_not_worse < 0.1
    assert "no worse than 0.005 below" in worse.said()
