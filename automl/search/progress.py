"""Live search progress: one rewritten line on a terminal, plain lines otherwise (stderr)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from automl.evaluate.trials import TRIAL_CONFIG_KEY, TrialConfig
from automl.plugins.components import MetricSpec


class SearchProgress:
    """Counts trials and the best score so far; ``tty`` picks the display."""

    def __init__(self, metric: MetricSpec, total: int, budget_s: float | None, stream: TextIO | None = None) -> None:
        self.metric = metric
        self.total = total
        self.budget_s = budget_s
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.started = time.monotonic()
        self.done = 0
        self.failed = 0
        self.best: tuple[float, str] | None = None

    def restart(self) -> None:
        """Start the budget's clock now (when the search itself starts)."""
        self.started = time.monotonic()

    def _time_left(self) -> str:
        if self.budget_s is None:
            return ""
        left = max(0.0, self.budget_s - (time.monotonic() - self.started))
        return f" | {left:.0f} s left"

    def _best(self) -> str:
        if self.best is None:
            return "no score yet"
        return f"best {self.metric.name} {self.best[0]:.4f} ({self.best[1]})"

    def trial_done(self, trainer: str, result: dict[str, Any] | None, error: str | None = None) -> None:
        self.done += 1
        folds_done = result.get("folds_done") if result else None
        value = result.get("score") if result else None
        if error is not None:
            self.failed += 1
            note = f"failed: {error}"
        elif value is None:
            note = "stopped before its first fold"
        else:
            complete = result is not None and result.get("folds_done") == result.get("n_folds")
            note = f"{self.metric.name}={value:.4f}" + ("" if complete else f" (stopped after {folds_done} fold(s))")
            if complete and (self.best is None or self.metric.better(value, self.best[0])):
                self.best = (value, trainer)
        if self.tty:
            self.stream.write(
                f"\r\x1b[Ksearch: {self.done}/{self.total} trials ({self.failed} failed) | "
                f"{self._best()}{self._time_left()}"
            )
        else:
            self.stream.write(f"trial {self.done}/{self.total} {trainer}: {note} | {self._best()}{self._time_left()}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def last_line(error: Any) -> str:
    lines = [ln.strip() for ln in str(error or "").strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "error (see leaderboard.csv)"


def tune_callback(progress: SearchProgress | None, on_complete: Callable[[dict[str, Any]], None] | None = None) -> Any:
    """A Ray Tune callback that feeds ``progress`` and hands each completed trial's last result to
    ``on_complete`` (built lazily: ray is imported only here).

    Tune pickles its callbacks with the experiment state; the live progress (which holds a
    stream) and the hook are left out of that copy.
    """
    from ray.tune import Callback

    class _ProgressCallback(Callback):
        def __init__(self, live: SearchProgress | None, hook: Callable[[dict[str, Any]], None] | None) -> None:
            # Passed in, not closed over: Tune pickles the class by value, with its closure.
            self.live = live
            self.on_complete = hook
            self.last: dict[str, dict[str, Any]] = {}

        def __getstate__(self) -> dict[str, Any]:
            return {**self.__dict__, "live": None, "on_complete": None}

        def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
            self.last[trial.trial_id] = result

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            result = self.last.pop(trial.trial_id, None)
            if self.live:
                self.live.trial_done(TrialConfig.from_json(trial.config[TRIAL_CONFIG_KEY]).trainer, result)
            if self.on_complete:
                self.on_complete(result or {})

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            if self.live:
                error = last_line(trial.get_error() if hasattr(trial, "get_error") else None)
                self.live.trial_done(TrialConfig.from_json(trial.config[TRIAL_CONFIG_KEY]).trainer, None, error=error)

    return _ProgressCallback(progress, on_complete)
