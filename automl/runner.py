"""``automl run``: one recipe from data to a registered, promoted (or kept) model version.

The steps follow DESIGN.md: check, load, split, search on Ray Tune, rank (with an ensemble), refit
the winner on all rows, importance, register with lineage, promote, write the run's files.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata as md
import json
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from automl.config.compose import recipe_to_yaml
from automl.config.schema import Recipe
from automl.config.validate import CheckedRecipe, check_recipe, typed_options
from automl.data.splits import stratified_folds
from automl.data.table import ExampleTable, build_table
from automl.errors import AutomlError, UserError
from automl.evaluate.artifacts import leaderboard_rows, write_artifacts
from automl.evaluate.cv import TrialData, fit_estimator, rows
from automl.evaluate.importance import permutation_importance
from automl.evaluate.leaderboard import Candidate, build_leaderboard
from automl.export import export_model
from automl.features.prepare import Prepared, prepare_views
from automl.features.views import FEATURES_VIEW, view_key
from automl.model import FittedMember, FittedModel
from automl.paths import workspace_dir
from automl.plugins.components import LoadRequest
from automl.plugins.manager import Plugins, get_plugins
from automl.registry.promote import promote_if_better
from automl.registry.store import ModelStore
from automl.search.candidates import plan_configs, still_available
from automl.search.progress import SearchProgress
from automl.search.retrain import plan_mode, recipe_fingerprint
from automl.search.tuner import SearchOutcome, run_search

CORE_PACKAGES = ("automl", "scikit-learn", "numpy", "pandas", "ray", "hydra-core", "pluggy")


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


def load_table(checked: CheckedRecipe, plugins: Plugins) -> ExampleTable:
    r = checked.recipe
    loader = plugins.loaders.get(r.data.loader)
    assert loader.load is not None
    request = LoadRequest(
        r.task.type,
        Path(r.data.path) if r.data.path else None,
        r.data.target,
        checked.loader_options,
        text_column=r.data.text_column,
        image_column=r.data.image_column,
    )
    return build_table(loader.load(request), r.data, min_per_class=r.eval.cv_folds)


def _version(dist: str) -> str:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "not installed"


def fit_model(
    plugins: Plugins,
    candidate: Candidate,
    prepared: Prepared,
    task: str,
    classes: list[str],
    y: np.ndarray,
    mask: np.ndarray | None = None,
    n_jobs: int | None = None,
) -> FittedModel:
    """Fit the candidate's members on all rows (or the rows in ``mask``)."""
    members = []
    for m in candidate.members:
        trainer = plugins.trainers.get(m.trainer)
        config = typed_options(trainer.config_cls, m.params, f"search.space.{m.trainer}")
        view = view_key(trainer.inputs, m.backbone)
        ctx = prepared.contexts[view]
        if n_jobs is not None:
            ctx = dataclasses.replace(ctx, n_jobs=n_jobs)
        X = prepared.views[view] if mask is None else rows(prepared.views[view], mask)
        estimator = fit_estimator(trainer, config, ctx, X, y if mask is None else y[mask])
        members.append(FittedMember(view, estimator, m.weight))
    views = {m.view: prepared.view_objects[m.view] for m in members}
    return FittedModel(task, classes, views, members, candidate.threshold)


def _importance(
    plugins: Plugins,
    recipe: Recipe,
    winner: Candidate,
    prepared: Prepared,
    classes: list[str],
    y: np.ndarray,
    folds: np.ndarray,
) -> list[dict[str, Any]]:
    """Permutation importance of the table's columns (tabular tasks only)."""
    if not recipe.eval.feature_importance or FEATURES_VIEW not in prepared.views:
        return []
    model = fit_model(plugins, winner, prepared, recipe.task.type, classes, y, mask=folds != 0, n_jobs=os.cpu_count())
    held = np.flatnonzero(folds == 0)
    rng = np.random.default_rng(recipe.seed)
    chosen = rng.choice(held, size=min(len(held), recipe.eval.importance_rows), replace=False)
    metric = plugins.metrics.get(recipe.eval.metric)
    X = prepared.views[FEATURES_VIEW].iloc[chosen].reset_index(drop=True)
    return permutation_importance(
        lambda frame: model.predict_proba_views({FEATURES_VIEW: frame}),
        X,
        y[chosen],
        metric,
        winner.threshold,
        recipe.seed,
    )


def _no_winner(outcome: SearchOutcome, recipe: Recipe) -> AutomlError:
    failed = [t for t in outcome.trials if t.status == "failed"]
    if failed and len(failed) == len(outcome.trials):
        return AutomlError(f"every trial failed; the first error: {failed[0].trainer}: {failed[0].error}")
    return UserError(
        f"no trial finished all {recipe.eval.cv_folds} folds within search.time_budget_s="
        f"{recipe.search.time_budget_s}; raise the budget or lower eval.cv_folds."
    )


def run_recipe(recipe: Recipe, progress_stream: TextIO | None = None) -> dict[str, Any]:
    """Run a typed recipe end to end; returns the summary also written to ``summary.json``."""
    started = time.perf_counter()
    plugins = get_plugins()
    checked = check_recipe(recipe, plugins)
    workspace = workspace_dir(recipe.workspace)
    run_id = new_run_id()
    run_dir = workspace / "runs" / recipe.name / run_id
    run_dir.mkdir(parents=True)
    (run_dir / "recipe.yaml").write_text(recipe_to_yaml(recipe))

    load_started = time.perf_counter()
    table = load_table(checked, plugins)
    load_s = time.perf_counter() - load_started
    folds = stratified_folds(table.y, recipe.eval.cv_folds, recipe.seed)
    plan = plan_mode(recipe, table.ids.tolist(), workspace)
    print(f"mode: {plan.mode} ({plan.reason})", file=progress_stream or sys.stderr)
    prepared = prepare_views(checked, plugins, table, workspace)
    data = TrialData(prepared.views, prepared.contexts, table.y, folds)
    metric = plugins.metrics.get(recipe.eval.metric)
    configs: list[dict[str, Any]] = []
    if plan.mode == "retrain":
        configs = still_available(plan.configs, checked, plugins, prepared.backbones, prepared.tunable)
        if not configs:
            reason = "none of the last run's best configurations can train now (a backbone or trainer is missing)"
            plan = dataclasses.replace(plan, mode="search", reason=reason)
            print(f"mode: search ({reason})", file=progress_stream or sys.stderr)
    retrain = plan.mode == "retrain"
    left_out: list[dict[str, Any]] = []
    if not retrain:
        configs, left_out = plan_configs(
            checked, plugins, prepared.backbones, prepared.tunable, prepared.forward_rates, len(table)
        )
    for note in left_out:
        print(f"note: not trying {note['trainer']} on {note['backbone']}: {note['reason']}", file=sys.stderr)
    budget = None if retrain else recipe.search.time_budget_s
    progress = SearchProgress(metric, len(configs), budget, progress_stream)
    outcome = run_search(checked, plugins, data, run_dir, configs, progress, retrain)

    board = build_leaderboard(
        outcome.trials,
        table.y,
        folds,
        metric,
        recipe.eval.tune_threshold,
        recipe.search.ensemble_size if recipe.search.ensemble else None,
    )
    if not board:
        raise _no_winner(outcome, recipe)
    winner = board[0]
    refit_started = time.perf_counter()
    model = fit_model(plugins, winner, prepared, recipe.task.type, table.classes, table.y, n_jobs=os.cpu_count())
    refit_s = time.perf_counter() - refit_started
    importance_started = time.perf_counter()
    importance = _importance(plugins, recipe, winner, prepared, table.classes, table.y, folds)
    importance_s = time.perf_counter() - importance_started

    export_started = time.perf_counter()
    exported = export_model(checked, plugins, model, table, folds, run_dir)
    export_s = time.perf_counter() - export_started

    store = ModelStore(workspace)
    distributions = sorted(
        {plugins.trainers.entry(m.trainer).distribution for m in winner.members}
        | {plugins.backbones.entry(m.backbone).distribution for m in winner.members if m.backbone}
    )
    lineage = {
        "recipe": dataclasses.asdict(recipe),
        "run_id": run_id,
        "data_hash": table.content_hash,
        "seed": recipe.seed,
        "packages": {p: _version(p) for p in CORE_PACKAGES},
        "plugins": {d: _version(d) for d in distributions},
    }
    version = store.register(
        recipe.name,
        model,
        {
            "task": recipe.task.type,
            "classes": table.classes,
            "metric": metric.name,
            "score": winner.score,
            "score_std": winner.score_std,
            "threshold": winner.threshold,
            "features": list(table.features.columns) if FEATURES_VIEW in prepared.views else None,
            "input_column": recipe.data.text_column or recipe.data.image_column,
            "best": {"trainer": winner.trainer, "backbone": winner.backbone, "params": winner.params},
            "lineage": lineage,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "export": exported.report if exported else None,
        },
        attachments={"export": exported.folder} if exported and exported.folder else None,
    )
    alias = promote_if_better(store, recipe.name, version, winner.score, metric)
    write_artifacts(run_dir, table, folds, winner, leaderboard_rows(board, outcome.trials), importance)

    summary = {
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
        "left_out": left_out,
        "stopped_trials": sum(t.status == "stopped" for t in outcome.trials),
        "mode": plan.mode,
        "mode_reason": plan.reason,
        "previous_run": plan.previous_run,
        "data_change": plan.data_change,
        "recipe_hash": recipe_fingerprint(recipe),
        "duration_s": round(time.perf_counter() - started, 3),
        "timing": {
            "load_s": round(load_s, 3),
            "ray_start_s": round(outcome.ray_start_s, 3),
            "search_s": round(outcome.search_s, 3),
            "trial_work_s": round(sum(t.work_s or 0.0 for t in outcome.trials), 3),
            "refit_s": round(refit_s, 3),
            "importance_s": round(importance_s, 3),
            "export_s": round(export_s, 3),
        },
        "model": {"name": recipe.name, "version": version, "alias": alias},
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
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary
