"""Run the search on Ray Tune: the planned configs x cross-validation, with ASHA over folds, a time
budget and a trial cap. Returns one record per trial; failed trials keep their error."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from automl.config.validate import CheckedRecipe
from automl.errors import UserError
from automl.evaluate.cv import TrialData
from automl.evaluate.trials import TRIAL_CONFIG_KEY, TrialConfig, TrialRecord
from automl.plugins.manager import Plugins
from automl.search.budget import EarlyStop, SearchStop, search_stopper
from automl.search.progress import SearchProgress, last_line, tune_callback
from automl.search.ray_session import ray_session
from automl.search.trial import OOF_FILE, cv_trial


@dataclass
class SearchOutcome:
    trials: list[TrialRecord]
    ray_start_s: float
    search_s: float
    end_reason: str = ""
    budget_s: float | None = None

    @property
    def completed(self) -> list[TrialRecord]:
        return [t for t in self.trials if t.status == "completed"]


def _record(result: Any, n_folds: int) -> TrialRecord | None:
    if not result.config:
        return None  # never started before the budget ran out
    config = TrialConfig.from_json(result.config[TRIAL_CONFIG_KEY])
    if result.error is not None:
        return TrialRecord.of(config, "failed", error=last_line(result.error))
    metrics = result.metrics or {}
    if "score" not in metrics:
        return None  # never started before the budget ran out
    folds_done = int(metrics.get("folds_done", 0))
    record = TrialRecord.of(
        config,
        "completed" if folds_done == n_folds else "stopped",
        score=float(metrics["score"]),
        fold_scores=[float(s) for s in metrics.get("fold_scores", [])],
        work_s=metrics.get("work_s"),
    )
    if record.status == "completed" and result.checkpoint is not None:
        with result.checkpoint.as_directory() as ckpt:
            record.oof = np.load(Path(ckpt) / OOF_FILE)
    return record


def run_search(
    checked: CheckedRecipe,
    plugins: Plugins,
    data: TrialData,
    run_dir: Path,
    configs: list[TrialConfig],
    progress: SearchProgress | None = None,
    retrain: bool = False,
    budget_s: float | None = None,
    early: EarlyStop | None = None,
) -> SearchOutcome:
    """Cross-validate ``configs`` within ``budget_s`` seconds (None: no limit), ending early when
    ``early`` says more trials are not worth it; a retrain runs every config to the end."""
    recipe = checked.recipe
    s = recipe.search
    n_folds = recipe.eval.cv_folds
    budget_s = None if retrain else budget_s
    stop = SearchStop(None if budget_s is None else time.monotonic() + budget_s, None if retrain else early)
    if not configs:
        raise UserError(
            "search: nothing to train: every backbone was skipped and search.trainers has no trainer that "
            "takes raw inputs; provide backbone weights or add such a trainer (see `automl plugins`)."
        )
    metric = plugins.metrics.get(recipe.eval.metric)
    with ray_session(recipe.ray) as ray_start_s:
        from ray import tune
        from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

        use_asha = s.scheduler == "asha" and budget_s is not None
        scheduler = (
            ASHAScheduler(time_attr="training_iteration", max_t=n_folds, grace_period=1, reduction_factor=3)
            if use_asha
            else FIFOScheduler()
        )
        trainable = tune.with_resources(
            tune.with_parameters(cv_trial, data=data, metric=metric.name), {"cpu": s.cpus_per_trial}
        )
        storage = Path(recipe.ray.storage_path) if recipe.ray.storage_path else run_dir
        tuner = tune.Tuner(
            trainable,
            param_space={TRIAL_CONFIG_KEY: tune.grid_search([c.to_json() for c in configs])},
            tune_config=tune.TuneConfig(
                metric="score",
                mode="max" if metric.greater_is_better else "min",
                scheduler=scheduler,
                time_budget_s=stop.hard_budget_s,
                max_concurrent_trials=s.max_concurrent_trials,
                reuse_actors=True,
            ),
            run_config=tune.RunConfig(
                name="tune",
                storage_path=str(storage.resolve()),
                verbose=0,
                callbacks=[tune_callback(progress, partial(stop.trial_complete, n_folds))],
                stop=search_stopper(stop),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            ),
        )
        if progress:
            progress.restart()
        started = time.perf_counter()
        grid = tuner.fit()
        search_s = time.perf_counter() - started
        results = (grid[i] for i in range(len(grid)))
        records = [r for r in (_record(result, n_folds) for result in results) if r is not None]
    if recipe.ray.storage_path is None:
        # Tune's experiment state and per-trial checkpoints have been read back into the records;
        # the run keeps its own leaderboard and out-of-fold file instead.
        shutil.rmtree(run_dir / "tune", ignore_errors=True)
    if progress:
        progress.close()
    records.sort(key=lambda r: r.index)
    reason = stop.reason(len(records), len(configs))
    if len(records) >= len(configs) and s.max_trials is not None and len(configs) >= s.max_trials:
        reason += " (search.max_trials)"
    return SearchOutcome(records, ray_start_s, search_s, reason, budget_s)
