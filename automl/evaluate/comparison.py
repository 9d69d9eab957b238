"""A paired comparison of two models' out-of-fold predictions on the same examples.

Both models' predictions are for the same examples from the same folds, so the gate's question
is answered by a paired bootstrap over examples: each resample draws the examples with
replacement and scores both models on that draw. Two questions, by what changed:

- ``superiority`` (nothing changed but the configuration): is the candidate better by more than
  the margin in at least ``confidence`` of the resamples? Run-to-run noise then never flips
  production between two equally good configurations.
- ``non_inferiority`` (the data changed: new examples, reviewed labels): is the candidate not
  worse than production by more than the margin in at least ``confidence`` of the resamples?
  A model that knows the new labels replaces one that does not, unless it is worse.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from automl.evaluate.scoring import score
from automl.plugins.components import MetricSpec

SUPERIORITY = "superiority"
NON_INFERIORITY = "non_inferiority"


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
    share_not_worse: float  # share of resamples in which the improvement is at least minus the margin
    margin: float
    confidence: float
    resamples: int
    rule: str = SUPERIORITY

    @property
    def passed(self) -> bool:
        """The rule holds in at least ``confidence`` of the resamples."""
        share = self.share_better if self.rule == SUPERIORITY else self.share_not_worse
        return share >= self.confidence

    def said(self) -> str:
        """The comparison in one line (for the gate's reason)."""
        if self.rule == SUPERIORITY:
            what, share = f"better by more than {self.margin:g}", self.share_better
        else:
            what, share = f"no worse than {self.margin:g} below", self.share_not_worse
        return f"{what} in {share:.0%} of {self.resamples} paired resamples (needs {self.confidence:.0%})"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


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
    rule: str = SUPERIORITY,
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
        share_not_worse=float(np.mean(draws >= -margin)),  # a tie is not worse
        margin=margin,
        confidence=confidence,
        resamples=len(draws),
        rule=rule,
    )
