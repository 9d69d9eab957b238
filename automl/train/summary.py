"""A run's summary: what ``automl run`` prints, ``automl.run`` returns and ``summary.json`` holds."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automl.config.schema import Recipe
from automl.data.table import ExampleTable
from automl.deadline import Deadline
from automl.evaluate.leaderboard import Candidate
from automl.features.prepare import Prepared
from automl.plugins.components import MetricSpec
from automl.search.candidates import ConfigChoice
from automl.search.retrain import recipe_fingerprint
from automl.search.tuner import SearchOutcome
from automl.train.export import ExportOutcome
from automl.train.registration import Registered


@dataclass(frozen=True)
class PhaseTimes:
    """Seconds a run spent outside the search (the search's own times are in its outcome)."""

    load_s: float
    refit_s: float
    importance_s: float
    export_s: float


def budget_report(deadline: Deadline, outcome: SearchOutcome, notes: list[str]) -> dict[str, Any]:
    """How the run used ``search.time_budget_s``: the search's share, why it ended, what was scaled
    down (backbones and configurations left out are in ``backbones.skipped`` and ``left_out``)."""
    return {
        "time_budget_s": deadline.budget_s,
        "search_budget_s": None if outcome.budget_s is None else round(outcome.budget_s, 3),
        "search_end": outcome.end_reason,
        "notes": notes,
    }


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
    winner: Candidate,
    importance: list[dict[str, Any]],
    exported: ExportOutcome | None,
    registered: Registered,
    times: PhaseTimes,
    duration_s: float,
    budget: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The summary as a JSON-ready dict (its keys are part of the CLI's ``--json`` output)."""
    plan = choice.plan
    return {
        "recipe": recipe.name,
        "task": recipe.task.type,
        "metric": metric.name,
        "score": winner.score,
        "score_std": winner.score_std,
        "fold_scores": winner.fold_scores,
        "threshold": winner.threshold,
        "best": {"trainer": winner.trainer, "backbone": winner.backbone, "params": winner.params},
        "trials": len(outcome.trials),
        "failed_trials": sum(t.status == "failed" for t in outcome.trials),
        "left_out": choice.left_out,
        "stopped_trials": sum(t.status == "stopped" for t in outcome.trials),
        "mode": plan.mode,
        "mode_reason": plan.reason,
        "previous_run": plan.previous_run,
        "data_change": plan.data_change,
        "recipe_hash": recipe_fingerprint(recipe),
        "duration_s": round(duration_s, 3),
        "budget": budget or {},
        "timing": {
            "load_s": round(times.load_s, 3),
            "ray_start_s": round(outcome.ray_start_s, 3),
            "search_s": round(outcome.search_s, 3),
            "trial_work_s": round(sum(t.work_s or 0.0 for t in outcome.trials), 3),
            "refit_s": round(times.refit_s, 3),
            "importance_s": round(times.importance_s, 3),
            "export_s": round(times.export_s, 3),
        },
        "model": {"name": recipe.name, "version": registered.version, "alias": registered.alias},
        "data": {
            "rows": len(table),
            "skipped": len(table.skipped),
            "skipped_examples": [dataclasses.asdict(b) for b in table.skipped[:20]],
            "content_hash": table.content_hash,
        },
        "importance": importance[:20],
        "export": exported.report if exported else None,
        "backbones": {
            "used": prepared.backbones,
            "skipped": prepared.skipped_backbones,
            "embedding": prepared.embedding,
        },
        "run_id": run_id,
        "run_dir": str(run_dir),
    }
