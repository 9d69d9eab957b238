"""When a search ends: its share of the time budget (but never before a first trial completed), or
earlier when more trials are not worth it; as a Ray Tune stopper. (The budget of the whole run is
:class:`automl.deadline.Deadline`.)"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class EarlyStop:
    """Ends a search once more trials are not worth it: after at least ``min_trials`` trials ended
    (every trainer-backbone pair's defaults), when the last ``patience`` trials to end did not beat
    the best completed one by more than its noise (the standard error of its fold scores). A trial
    the scheduler stopped early counts as no gain."""

    min_trials: int
    patience: int
    greater_is_better: bool = True
    ended: list[tuple[float, float]] = field(default_factory=list)  # (signed score, noise), in order
    reason: str = ""

    @property
    def stop(self) -> bool:
        return bool(self.reason)

    def add(self, score: float | None, fold_scores: list[float]) -> None:
        """A trial ended: completed with ``score`` over ``fold_scores``, or stopped (``score`` None)."""
        sign = 1.0 if self.greater_is_better else -1.0
        signed = -math.inf if score is None else sign * score
        self.ended.append((signed, _standard_error(fold_scores) if score is not None else 0.0))
        if self.reason or len(self.ended) < max(self.min_trials, self.patience + 1):
            return
        head, tail = self.ended[: -self.patience], self.ended[-self.patience :]
        best, best_noise = max(head)
        if best == -math.inf:
            return
        margin = max(best_noise, 1e-4)
        if max(s for s, _ in tail) > best + margin:
            return
        self.reason = (
            f"stopped early after {len(self.ended)} trials: the last {self.patience} did not beat the best "
            f"({sign * best:.4f}) by more than its noise (±{margin:.4f}, the standard error of its fold scores); "
            "search.stop_early=false spends the whole budget"
        )


def _standard_error(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    variance = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return math.sqrt(variance / len(values))


@dataclass
class SearchStop:
    """When a search ends: at ``until`` (a ``time.monotonic()`` value; None: no limit) once at least
    one trial completed every fold, however late that is; when ``early`` says so; and in any case
    at ``hard_until``, when Tune's own time budget stops it."""

    until: float | None
    early: EarlyStop | None = None
    completed: int = 0
    late: bool = False

    @property
    def hard_budget_s(self) -> float | None:
        """Tune's own budget: three times the search's (at least a minute more), a last resort."""
        if self.until is None:
            return None
        left = max(0.0, self.until - time.monotonic())
        return max(3 * left, left + 60)

    def ended(self, score: float | None, fold_scores: list[float]) -> None:
        if score is not None:
            self.completed += 1
        if self.early is not None:
            self.early.add(score, fold_scores)

    def trial_complete(self, n_folds: int, result: dict[str, Any]) -> None:
        """A Tune trial ended with ``result`` its last report: complete when it did every fold."""
        complete = result.get("folds_done") == n_folds and "score" in result
        self.ended(float(result["score"]) if complete else None, list(result.get("fold_scores", [])))

    def time_is_up(self) -> bool:
        if self.until is None or time.monotonic() < self.until:
            return False
        if self.completed == 0:
            self.late = True  # past the budget, waiting for a first complete trial
            return False
        return True

    def reason(self, tried: int, planned: int) -> str:
        """Why the search ended, for the summary."""
        if self.early is not None and self.early.reason:
            return self.early.reason
        if tried >= planned:
            return f"every planned configuration was tried: {planned}"
        wait = "; it ran past its budget until a first trial completed every fold" if self.late else ""
        return f"the time budget ended the search after {tried} of {planned} planned configurations{wait}"


def search_stopper(stop: SearchStop) -> Any:
    """A Ray Tune stopper, polled by Tune every tenth of a second, that ends the whole search when
    ``stop`` says so (ray is imported here). Tune's progress callback tells ``stop`` each trial's
    end (``SearchStop.trial_complete``)."""
    from ray.tune import Stopper

    class _Stop(Stopper):
        def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
            return False

        def stop_all(self) -> bool:
            return bool(stop.early and stop.early.stop) or stop.time_is_up()

    return _Stop()
