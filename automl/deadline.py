"""``search.time_budget_s`` as the wall time of the whole run, from the command's start to a
registered model.

The :class:`Deadline` is made when the command starts; each phase asks it what is left. Loading and
the first backbone always run; a further backbone is embedded only when its estimated time fits
:data:`EMBED_SHARE` of the budget; the search gets what is left minus a reserve for what follows it
(Ray's shutdown, refit, export, registration; plus what :meth:`Deadline.hold` keeps for a
known cost, such as converting a backbone for the export the first time); the refit takes the
best leaderboard entry whose estimated refit fits what is left. Whatever is scaled down or
skipped is said on stderr and in the summary.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

# Share of the budget that embedding with more than the first backbone may take.
EMBED_SHARE = 0.5
# Kept back from the search for the steps after it: Ray's shutdown, refit, export, registration.
RESERVE_SHARE = 0.1
RESERVE_MIN_S = 3.0
# Least time a search is given, even when the budget is spent (it can still finish a cheap trial).
MIN_SEARCH_S = 2.0


@dataclass
class Deadline:
    """The run's clock: ``budget_s`` None means no limit."""

    budget_s: float | None
    started: float = field(default_factory=time.monotonic)
    held_s: float = 0.0  # kept back from the search for a known cost after it (a backbone's export)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def remaining(self) -> float:
        return math.inf if self.budget_s is None else self.budget_s - self.elapsed()

    def fits(self, seconds: float, share: float = 1.0) -> bool:
        """Whether ``seconds`` more still end within ``share`` of the budget."""
        return self.budget_s is None or self.elapsed() + seconds <= share * self.budget_s

    def reserve(self) -> float:
        if self.budget_s is None:
            return 0.0
        return max(RESERVE_MIN_S, RESERVE_SHARE * self.budget_s) + self.held_s

    def hold(self, seconds: float) -> None:
        """Keep ``seconds`` more back from the search, for a step after it that costs that much."""
        self.held_s = max(0.0, float(seconds))

    def search_seconds(self) -> float | None:
        """The search's own time budget: what is left after the reserve (None without a budget)."""
        if self.budget_s is None:
            return None
        return max(MIN_SEARCH_S, self.remaining() - self.reserve())
