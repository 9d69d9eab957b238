"""The leaderboard: completed trials and the ensemble as entries, scored on the same folds.

For a binary task ranked by a label-based metric, each entry's decision threshold is tuned on
its out-of-fold predictions before it is scored (so the scores are slightly optimistic, as
AutoGluon's threshold calibration is; every entry gets the same treatment).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from automl.evaluate.ensemble import select_ensemble
from automl.evaluate.scoring import fold_scores, tune_threshold
from automl.evaluate.trials import TrialRecord
from automl.plugins.components import MetricSpec

ENSEMBLE_POOL = 10


@dataclass
class Member:
    trainer: str
    backbone: str | None
    params: dict[str, Any]
    weight: float


@dataclass
class LeaderboardEntry:
    name: str  # "t007" for a trial, "ensemble"
    members: list[Member]
    oof: np.ndarray
    threshold: float | None
    fold_scores: list[float] = field(default_factory=list)

    @property
    def score(self) -> float:
        return float(np.mean(self.fold_scores))

    @property
    def score_std(self) -> float:
        return float(np.std(self.fold_scores))

    @property
    def trainer(self) -> str:
        return self.members[0].trainer if len(self.members) == 1 else "ensemble"

    @property
    def backbone(self) -> str | None:
        """The one backbone all members share, or None (none, or several)."""
        backbones = {m.backbone for m in self.members}
        return backbones.pop() if len(backbones) == 1 else None

    @property
    def params(self) -> dict[str, Any]:
        if len(self.members) == 1:
            return dict(self.members[0].params)
        return {
            "members": [
                {"trainer": m.trainer, "backbone": m.backbone, "params": m.params, "weight": m.weight}
                for m in self.members
            ]
        }


def _scored(
    name: str, members: list[Member], oof: np.ndarray, y: np.ndarray, folds: np.ndarray, metric: MetricSpec, tune: bool
) -> LeaderboardEntry:
    threshold = tune_threshold(metric, y, oof) if tune else None
    return LeaderboardEntry(name, members, oof, threshold, fold_scores(metric, y, oof, folds, threshold))


def build_leaderboard(
    trials: list[TrialRecord],
    y: np.ndarray,
    folds: np.ndarray,
    metric: MetricSpec,
    tune_thresholds: bool,
    ensemble_rounds: int | None,
) -> list[LeaderboardEntry]:
    """Candidates best first; ties keep the earlier (simpler) one. ``ensemble_rounds``: None for
    no ensemble."""
    singles = [
        _scored(
            f"t{t.index:03d}", [Member(t.trainer, t.backbone, t.params, 1.0)], t.oof, y, folds, metric, tune_thresholds
        )
        for t in trials
        if t.status == "completed" and t.oof is not None
    ]
    ranked = _rank(singles, metric)
    pool = ranked[:ENSEMBLE_POOL]
    if ensemble_rounds and len(pool) >= 2:
        choice = select_ensemble(metric, y, [c.oof for c in pool], ensemble_rounds)
        if len(choice.members) >= 2:
            members = [
                Member(pool[i].members[0].trainer, pool[i].members[0].backbone, pool[i].members[0].params, w)
                for i, w in zip(choice.members, choice.weights, strict=True)
            ]
            blended = choice.blend([c.oof for c in pool])
            ranked = _rank([*ranked, _scored("ensemble", members, blended, y, folds, metric, tune_thresholds)], metric)
    return ranked


def _rank(entries: list[LeaderboardEntry], metric: MetricSpec) -> list[LeaderboardEntry]:
    sign = -1.0 if metric.greater_is_better else 1.0
    return sorted(entries, key=lambda c: sign * c.score)
