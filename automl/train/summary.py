"""A run's summary (``RunSummary``): what ``automl run`` prints, ``summary.json`` holds and
``automl.run`` returns as JSON. Typed for the code that reads it; ``to_json`` keeps the file's keys."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automl.config.schema import Recipe
from automl.data.table import ExampleTable
from automl.deadline import Deadline
from automl.evaluate.leaderboard import LeaderboardEntry
from automl.features.prepare import Prepared
from automl.plugins.components import MetricSpec
from automl.registry.meta import BestConfig
from automl.search.configs import ConfigChoice
from automl.search.retrain import recipe_fingerprint
from automl.search.tuner import SearchOutcome
from automl.train.export import ExportOutcome
from automl.train.gate import GateReport
from automl.train.registration import Registered


@dataclass(frozen=True)
class PhaseTimes:
    """Seconds a run spent outside the search (the search's own times are in its outcome)."""

    load_s: float
    refit_s: float
    importance_s: float
    export_s: float
    gate_s: float = 0.0  # the model tests and production's re-evaluation


@dataclass(frozen=True)
class BudgetReport:
    """How the run used ``search.time_budget_s``: the search's share, why it ended, what was scaled
    down (backbones and configurations left out are in ``backbones.skipped`` and ``left_out``)."""

    time_budget_s: float | None
    search_budget_s: float | None
    search_end: str
    notes: list[str]


def budget_report(deadline: Deadline, outcome: SearchOutcome, notes: list[str]) -> BudgetReport:
    search_budget_s = None if outcome.budget_s is None else round(outcome.budget_s, 3)
    return BudgetReport(deadline.budget_s, search_budget_s, outcome.end_reason, notes)


@dataclass(frozen=True)
class Timing:
    load_s: float
    ray_start_s: float
    search_s: float
    trial_work_s: float
    refit_s: float
    importance_s: float
    export_s: float
    gate_s: float = 0.0  # the model tests and production's re-evaluation


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: int
    alias: str  # production | candidate
    rollout: bool = False  # passed the gate and started the recipe's rollout toward production
    reason: str = ""  # why it was or was not promoted, in one line


@dataclass(frozen=True)
class DataReport:
    rows: int
    skipped: int
    skipped_examples: list[dict[str, Any]]
    content_hash: str
    from_reviews: int = 0  # examples added from reviewed invokes
    relabelled: int = 0  # examples whose label a review changed


@dataclass(frozen=True)
class BackboneReport:
    used: list[str]
    skipped: list[dict[str, Any]]
    embedding: dict[str, Any]


@dataclass(frozen=True)
class RunSummary:
    recipe: str
    task: str
    metric: str
    score: float
    score_std: float
    fold_scores: list[float]
    threshold: float | None
    best: BestConfig
    trials: int
    failed_trials: int
    left_out: list[dict[str, Any]]
    stopped_trials: int
    mode: str
    mode_reason: str
    previous_run: str | None
    data_change: float | None
    recipe_hash: str
    duration_s: float
    budget: BudgetReport
    timing: Timing
    model: ModelVersion
    data: DataReport
    importance: list[dict[str, Any]]
    export: dict[str, Any] | None
    backbones: BackboneReport
    run_id: str
    run_dir: str
    gate: dict[str, Any] = dataclasses.field(default_factory=dict)  # GateReport.to_json(): what was compared, on what
    report: str | None = None  # report.html's path, once written (None: the run could not write it)

    @property
    def promoted(self) -> bool:
        """Production now, or on its way there by the recipe's rollout."""
        return self.model.alias == "production" or self.model.rollout

    def to_json(self) -> dict[str, Any]:
        """The summary as JSON data (its keys are part of the CLI's ``--json`` output)."""
        return dataclasses.asdict(self)


def run_summary(
    *,
    recipe: Recipe,
    run_id: str,
    run_dir: Path,
    table: ExampleTable,
    prepared: Prepared,
    choice: ConfigChoice,
    outcome: SearchOutcome,
    metric: MetricSpec,
    winner: LeaderboardEntry,
    importance: list[dict[str, Any]],
    exported: ExportOutcome | None,
    registered: Registered,
    gate: GateReport,
    times: PhaseTimes,
    duration_s: float,
    budget: BudgetReport,
) -> RunSummary:
    """The summary of a finished run, from its typed parts."""
    plan = choice.plan
    return RunSummary(
        recipe=recipe.name,
        task=recipe.task.type,
        metric=metric.name,
        score=winner.score,
        score_std=winner.score_std,
        fold_scores=winner.fold_scores,
        threshold=winner.threshold,
        best=BestConfig(winner.trainer, winner.backbone, winner.params),
        trials=len(outcome.trials),
        failed_trials=sum(t.status == "failed" for t in outcome.trials),
        left_out=choice.left_out,
        stopped_trials=sum(t.status == "stopped" for t in outcome.trials),
        mode=plan.mode,
        mode_reason=plan.reason,
        previous_run=plan.previous_run,
        data_change=plan.data_change,
        recipe_hash=recipe_fingerprint(recipe),
        duration_s=round(duration_s, 3),
        budget=budget,
        timing=Timing(
            load_s=round(times.load_s, 3),
            ray_start_s=round(outcome.ray_start_s, 3),
            search_s=round(outcome.search_s, 3),
            trial_work_s=round(sum(t.work_s or 0.0 for t in outcome.trials), 3),
            refit_s=round(times.refit_s, 3),
            importance_s=round(times.importance_s, 3),
            export_s=round(times.export_s, 3),
            gate_s=round(times.gate_s, 3),
        ),
        model=ModelVersion(recipe.name, registered.version, registered.alias, registered.rollout, registered.reason),
        data=DataReport(
            rows=len(table),
            skipped=len(table.skipped),
            skipped_examples=[dataclasses.asdict(b) for b in table.skipped[:20]],
            content_hash=table.content_hash,
            from_reviews=table.from_reviews,
            relabelled=table.relabelled,
        ),
        importance=importance[:20],
        export=exported.report if exported else None,
        backbones=BackboneReport(prepared.backbones, prepared.skipped_backbones, prepared.embedding),
        run_id=run_id,
        run_dir=str(run_dir),
        gate=gate.to_json(),
    )
