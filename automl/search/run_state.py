"""``RunState``: what a run leaves for the next run of its recipe to decide on a retrain.

The leaderboard (``leaderboard.csv``) and the summary are reports for people; the next run reads
this record instead: the recipe's fingerprint and the completed single configurations, best first.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from automl.durable import write_text
from automl.errors import BundleFormatError
from automl.evaluate.leaderboard import LeaderboardEntry
from automl.evaluate.trials import TrialConfig

STATE_FILE = "state.json"
STATE_FORMAT = 1


@dataclass(frozen=True)
class RunState:
    recipe_hash: str
    ranked: list[TrialConfig] = field(default_factory=list)  # completed single configs, best first

    @classmethod
    def from_board(cls, recipe_hash: str, board: Sequence[LeaderboardEntry]) -> RunState:
        """The state of a run whose leaderboard is ``board`` (ranked); ensembles are left out."""
        singles = [e for e in board if len(e.members) == 1]
        return cls(recipe_hash, [TrialConfig(i, e.trainer, dict(e.params), e.backbone) for i, e in enumerate(singles)])

    def write(self, run_dir: Path) -> None:
        data = {"format": STATE_FORMAT, "recipe_hash": self.recipe_hash, "ranked": [c.to_json() for c in self.ranked]}
        write_text(run_dir / STATE_FILE, json.dumps(data, indent=2, default=str))

    @classmethod
    def read(cls, run_dir: Path) -> RunState | None:
        """The run's state; None for a run saved without one (by an automl before this record)."""
        path = run_dir / STATE_FILE
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text())
            if data.get("format") != STATE_FORMAT:
                raise ValueError(f"format {data.get('format')!r}, this automl reads {STATE_FORMAT}")
            return cls(str(data["recipe_hash"]), [TrialConfig.from_json(c) for c in data["ranked"]])
        except (ValueError, KeyError, TypeError) as err:
            raise BundleFormatError(f"{path} cannot be read ({err}); run with search.mode=search.") from None
