"""Which leaderboard entry to refit on all rows when the time budget is nearly spent.

A refit is estimated from the entry's own trials: a trial's work covers ``k`` fits on (k-1)/k
of the rows each, so one fit on all rows takes about its work / (k - 1). The best entry whose
estimate fits what is left is refit (one under ``ALWAYS_REFIT_S`` always is); failing all, the
cheapest.
"""

from __future__ import annotations

import json
from typing import Any

from automl.evaluate.leaderboard import LeaderboardEntry
from automl.evaluate.trials import TrialRecord

# A refit expected to take less than this runs even when the budget is spent.
ALWAYS_REFIT_S = 2.0


def _config_key(trainer: str, backbone: str | None, params: dict[str, Any]) -> tuple[str, str | None, str]:
    return trainer, backbone, json.dumps(params, sort_keys=True, default=str)


def refit_seconds(entry: LeaderboardEntry, trials: list[TrialRecord], n_folds: int) -> float:
    """The estimated seconds of refitting ``entry``'s members on all rows."""
    per_config = {
        _config_key(t.trainer, t.backbone, t.params): (t.work_s or 0.0) / max(1, n_folds - 1)
        for t in trials
        if t.status == "completed"
    }
    return sum(per_config.get(_config_key(m.trainer, m.backbone, m.params), 0.0) for m in entry.members)


def affordable_winner(
    board: list[LeaderboardEntry], trials: list[TrialRecord], n_folds: int, seconds_left: float
) -> tuple[LeaderboardEntry, str]:
    """The entry to refit, and a note when it is not the top of the leaderboard."""
    cost = {c.name: refit_seconds(c, trials, n_folds) for c in board}
    fitting = [c for c in board if cost[c.name] <= max(seconds_left, ALWAYS_REFIT_S)]
    chosen = fitting[0] if fitting else min(board, key=lambda c: cost[c.name])
    if chosen is board[0]:
        return chosen, ""
    return chosen, (
        f"refitting {board[0].name} ({board[0].trainer}) would take about {cost[board[0].name]:.0f} s, past "
        f"search.time_budget_s; refit {chosen.name} ({chosen.trainer}, {chosen.score:.4f}) instead"
    )
