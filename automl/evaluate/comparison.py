"""A paired comparison of two models' out-of-fold predictions on the same examples.

The gate asks "is the candidate better than production by more than the recipe's margin, beyond
run-to-run noise?". Both models' predictions are for the same examples from the same folds, so
the question is answered by a paired bootstrap over examples: each resample draws the examples
with replacement and scores both models on that draw; the share of resamples in which the
candidate wins by more than the margin is the confidence the gate needs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from automl.evaluate.scoring import score
from automl.plugins.components import MetricSpec


@dataclass(frozen=True)
class Scored:
    """One model's out-of-fold class probabilities and decision threshold."""

    proba: np.ndarray
    threshold: float | None


@dataclass(frozen=True)
class PairedComparison:
    metric: str
    examples: int
    candidate: float  # the candidate's score on these examples
    production: float  # production's score on the same examples
    improvement: float  # how much better the candidate is (positive: better, whatever the metric's direction)
    low: float  # the improvement's lower bound at ``confidence``
    share_better: float  # share of resamples in which the improvement exceeds the margin
    margin: float
    confidence: float
    resamples: int

    @property
    def better(self) -> bool:
        """The candidate beats production by more than the margin in at least ``confidence`` of the resamples."""
        return self.share_better >= self.confidence

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "better": self.better}


def _gain(metric: MetricSpec, a: float, b: float) -> float:
    return a - b if metric.greater_is_better else b - a


def paired_bootstrap(
    metric: MetricSpec,
    y: np.ndarray,
    candidate: Scored,
    production: Scored,
    margin: float,
    confidence: float,
    resamples: int,
    seed: int,
) -> PairedComparison:
    """Compare ``candidate`` with ``production`` on the examples ``y`` (same rows, same order)."""
    n = len(y)
    if n == 0 or len(candidate.proba) != n or len(production.proba) != n:
        raise ValueError("both models need predictions for the same, non-empty set of examples")
    rng = np.random.default_rng(seed)
    gains = []
    for _ in range(resamples):
        idx = rng.integers(0, n, n)
        try:
            a = score(metric, y[idx], candidate.proba[idx], candidate.threshold)
            b = score(metric, y[idx], production.proba[idx], production.threshold)
        except ValueError:  # a resample with one class: a ranking metric is undefined there
            continue
        gains.append(_gain(metric, a, b))
    if not gains:
        raise ValueError(f"{metric.name} is undefined on every resample of these {n} examples")
    draws = np.asarray(gains)
    cand = score(metric, y, candidate.proba, candidate.threshold)
    prod = score(metric, y, production.proba, production.threshold)
    return PairedComparison(
        metric=metric.name,
        examples=n,
        candidate=cand,
        production=prod,
        improvement=_gain(metric, cand, prod),
        low=float(np.quantile(draws, 1 - confidence)),
        share_better=float(np.mean(draws > margin)),
        margin=margin,
        confidence=confidence,
        resamples=len(draws),
    )
