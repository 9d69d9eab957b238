"""``automl run``: one recipe from data to a registered, promoted (or kept) model version.

The steps follow DESIGN.md: check, load, split, search on Ray Tune, rank (with an ensemble), refit
the winner on all rows, importance, the model tests and the gate against production on the same
folds (``automl.train.gate``), register with lineage and apply the gate's verdict
(``automl.train.registration``), write the run's files and the summary (``automl.train.summary``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import Any, ParamSpec, TextIO, TypeVar

import numpy as np

from automl.config.compose import recipe_to_yaml
from automl.config.schema import Recipe
from automl.config.validate import CheckedRecipe, check_recipe, typed_options
from automl.data.splits import stratified_folds
from automl.data.table import ExampleTable, build_table
from automl.deadline import RESERVE_MIN_S, Deadline
from automl.durable import write_text
from automl.errors import AutomlError, UserError
from automl.evaluate.artifacts import leaderboard_rows, write_artifacts
from automl.evaluate.cv import TrialData, fit_estimator, rows
from automl.evaluate.importance import permutation_importance
from automl.evaluate.leaderboard import LeaderboardEntry, build_leaderboard
from automl.evaluate.refit_choice import affordable_winner
from automl.evaluate.run_report import write_run_report
from automl.features.prepare import Prepared, prepare_views
from automl.features.views import FEATURES_VIEW, view_key
from automl.model.fitted import FittedMember, FittedModel
from automl.model.model_tests import run_model_tests
from automl.paths import workspace_dir
from automl.plugins.components import LoadRequest, MetricSpec
from automl.plugins.manager import Plugins, get_plugins
from automl.registry.store import ModelStore
from automl.search.budget import EarlyStop
from automl.search.configs import ConfigChoice, choose_configs
from automl.search.in_driver import evaluate_in_driver
from automl.search.progress import SearchProgress
from automl.search.ray_session import ray_session, wait_for_ray_stop, warm_driver
from automl.search.retrain import could_retrain, plan_mode, recipe_fingerprint
from automl.search.run_state import RunState
from automl.search.tuner import SearchOutcome, run_search
from automl.train.annotations import with_annotations
from automl.train.export import expected_export_s, export_model
from automl.train.gate import GateReport, judge, production_backbones
from automl.train.registration import register_winner
from automl.train.summary import PhaseTimes, RunSummary, budget_report, run_summary

_P = ParamSpec("_P")
# Completed trials without a gain beyond noise after which a search stops early (at least one per
# trainer-backbone pair).
EARLY_STOP_PATIENCE = 6
_T = TypeVar("_T")


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


def load_training_table(checked: CheckedRecipe, plugins: Plugins, workspace: Path) -> ExampleTable:
    """The recipe's examples with the model's reviewed labels on top (``train.annotations``)."""
    return with_annotations(load_table(checked, plugins), checked.recipe, workspace)


def load_table(checked: CheckedRecipe, plugins: Plugins) -> ExampleTable:
    r = checked.recipe
    loader = plugins.loaders.get(checked.loader)
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


def fit_model(
    plugins: Plugins,
    entry: LeaderboardEntry,
    prepared: Prepared,
    task: str,
    classes: list[str],
    y: np.ndarray,
    mask: np.ndarray | None = None,
    n_jobs: int | None = None,
) -> FittedModel:
    """Fit the entry's members on all rows (or the rows in ``mask``)."""
    members = []
    for m in entry.members:
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
    return FittedModel(task, classes, views, members, entry.threshold)


def _importance(
    plugins: Plugins,
    recipe: Recipe,
    winner: LeaderboardEntry,
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


def _timed(fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> tuple[_T, float]:
    """``fn(*args, **kwargs)`` and the seconds it took."""
    started = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - started


def _new_run_dir(workspace: Path, recipe: Recipe, run_id: str) -> Path:
    """The run's folder, holding the recipe as run."""
    run_dir = workspace / "runs" / recipe.name / run_id
    run_dir.mkdir(parents=True)
    (run_dir / "recipe.yaml").write_text(recipe_to_yaml(recipe))
    return run_dir


def _search(
    checked: CheckedRecipe,
    plugins: Plugins,
    prepared: Prepared,
    table: ExampleTable,
    folds: np.ndarray,
    run_dir: Path,
    choice: ConfigChoice,
    metric: MetricSpec,
    deadline: Deadline,
    progress_stream: TextIO | None,
) -> SearchOutcome:
    """Every chosen config cross-validated on Ray Tune, within what the deadline leaves; a retrain
    runs every config to the end."""
    s = checked.recipe.search
    # Only the views the configs train on travel to the trials: a fine-tuning view holds the
    # backbone itself, whose unpickling costs every trial process seconds (torch, timm).
    used = {view_key(plugins.trainers.get(c.trainer).inputs, c.backbone) for c in choice.configs}
    views = {k: v for k, v in prepared.views.items() if k in used}
    data = TrialData(views, {k: c for k, c in prepared.contexts.items() if k in used}, table.y, folds)
    budget = None if choice.retrain else deadline.search_seconds()
    early = None
    if s.stop_early and budget is not None:
        # Without a budget a search is reproducible: it runs every config, whatever order they end in.
        stages = {c.trainer: plugins.trainers.get(c.trainer).stage for c in choice.configs}
        lowest = min(stages.values(), default=0)
        pairs = len({(c.trainer, c.backbone) for c in choice.configs if stages[c.trainer] == lowest})
        patience = max(EARLY_STOP_PATIENCE, pairs)
        early = EarlyStop(min_trials=pairs, patience=patience, greater_is_better=metric.greater_is_better)
    progress = SearchProgress(metric, len(choice.configs), budget, progress_stream)
    if choice.retrain and checked.recipe.ray.address is None:
        started = time.perf_counter()
        records = evaluate_in_driver(plugins, data, choice.configs, metric.name, progress)
        progress.close()
        reason = f"a retrain: the last run's {len(records)} best configurations, re-evaluated in this process"
        return SearchOutcome(records, 0.0, time.perf_counter() - started, reason, None)
    return run_search(checked, plugins, data, run_dir, choice.configs, progress, choice.retrain, budget, early)


def _leaderboard(
    recipe: Recipe, outcome: SearchOutcome, table: ExampleTable, folds: np.ndarray, metric: MetricSpec
) -> list[LeaderboardEntry]:
    """The ranked leaderboard (the winner first); an error when no trial completed."""
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
    return board


def _gate(
    checked: CheckedRecipe,
    plugins: Plugins,
    workspace: Path,
    prepared: Prepared,
    table: ExampleTable,
    folds: np.ndarray,
    winner: LeaderboardEntry,
    model: FittedModel,
    outcome: SearchOutcome,
    metric: MetricSpec,
) -> GateReport:
    """The recipe's model tests on the refit winner, then the comparison with production."""
    recipe = checked.recipe
    data_root = Path(recipe.data.path) if recipe.data.path else None
    tests = run_model_tests(recipe.eval.tests, model, table, winner.oof, winner.threshold, recipe.seed, data_root)
    store = ModelStore(workspace)
    return judge(
        store, recipe, plugins, prepared, table.y, folds, winner, outcome.trials, metric, tests, table.content_hash
    )


def _write_summary(run_dir: Path, summary: RunSummary) -> None:
    write_text(run_dir / "summary.json", json.dumps(summary.to_json(), indent=2, default=str))  # whole or absent


def _with_report(summary: RunSummary, run_dir: Path, log: TextIO) -> RunSummary:
    """Write ``report.html`` beside ``summary.json`` and record it there. The page is for people:
    one that fails is a warning line, never a failed run (its model is trained and registered)."""
    started = time.perf_counter()
    try:
        path = write_run_report(run_dir)
    except Exception as err:  # noqa: BLE001 - whatever broke the page, the run stands
        print(f"warning: no report.html: {type(err).__name__}: {err}", file=log)
        return summary
    print(f"report: {path} ({time.perf_counter() - started:.2f} s)", file=log)
    summary = dataclasses.replace(summary, report=str(path))
    _write_summary(run_dir, summary)
    return summary


def run_recipe(recipe: Recipe, progress_stream: TextIO | None = None, started: float | None = None) -> RunSummary:
    """Run a typed recipe end to end; returns the summary also written to ``summary.json``.

    ``started`` is the ``time.monotonic()`` at which the command started (default: now): the
    recipe's ``search.time_budget_s`` counts from there to the registered model.
    """
    deadline = Deadline(recipe.search.time_budget_s, started if started is not None else time.monotonic())
    log = progress_stream or sys.stderr
    plugins = get_plugins()
    checked = check_recipe(recipe, plugins)
    recipe = checked.recipe  # with the task's defaults filled in
    workspace = workspace_dir(recipe.workspace)
    run_id = new_run_id()
    run_dir = _new_run_dir(workspace, recipe, run_id)

    metric = plugins.metrics.get(recipe.eval.metric)
    # A local retrain re-evaluates a few configurations in this process; anything else runs on Ray,
    # which starts in this thread while the examples are loaded and embedded in another.
    maybe_retrain = recipe.ray.address is None and could_retrain(recipe, workspace)
    with ThreadPoolExecutor(1, thread_name_prefix="automl-prepare") as pool:
        loading = pool.submit(_timed, load_training_table, checked, plugins, workspace)
        plan = None
        if maybe_retrain:
            table, load_s = loading.result()
            plan = plan_mode(recipe, table.ids.tolist(), workspace)
        use_ray = plan is None or plan.mode != "retrain"
        # A retrain embeds with the backbones its configurations and production's use, no others.
        only = None
        if not use_ray and plan is not None:
            wanted = {c.backbone for c in plan.configs if c.backbone}
            only = sorted(wanted | production_backbones(ModelStore(workspace), recipe.name))
        preparing = pool.submit(
            lambda: prepare_views(checked, plugins, loading.result()[0], workspace, deadline, only, log)
        )
        with ray_session(recipe.ray, stop_in_background=True) if use_ray else nullcontext(0.0) as ray_start_s:
            if plan is None:
                table, load_s = loading.result()
                plan = plan_mode(recipe, table.ids.tolist(), workspace)
            print(f"mode: {plan.mode} ({plan.reason})", file=log)
            folds = stratified_folds(table.y, recipe.eval.cv_folds, recipe.seed)
            if use_ray:
                warm_driver()
            prepared = preparing.result()
            deadline.hold(
                expected_export_s(
                    checked, plugins, prepared.view_objects, workspace, prepared.forward_rates, len(table)
                )
            )
            choice = choose_configs(plan, checked, plugins, prepared, len(table), log, deadline.search_seconds())
            outcome = _search(
                checked, plugins, prepared, table, folds, run_dir, choice, metric, deadline, progress_stream
            )
    outcome.ray_start_s = outcome.ray_start_s or ray_start_s

    board = _leaderboard(recipe, outcome, table, folds, metric)
    winner, refit_note = affordable_winner(board, outcome.trials, recipe.eval.cv_folds, deadline.remaining())
    if refit_note:
        print(f"note: {refit_note}", file=log)
    model, refit_s = _timed(
        fit_model, plugins, winner, prepared, recipe.task.type, table.classes, table.y, n_jobs=os.cpu_count()
    )
    notes = [refit_note] if refit_note else []
    importance: list[dict[str, Any]] = []
    importance_s = 0.0
    applies = recipe.eval.feature_importance and FEATURES_VIEW in prepared.views
    if not applies or deadline.fits(refit_s + RESERVE_MIN_S):
        importance, importance_s = _timed(_importance, plugins, recipe, winner, prepared, table.classes, table.y, folds)
    else:
        notes.append("feature importance skipped: it would not end within search.time_budget_s")
        print(f"note: {notes[-1]}", file=log)
    seconds_left = None if recipe.search.time_budget_s is None else deadline.remaining()
    exported, export_s = _timed(
        export_model, checked, plugins, model, table, folds, run_dir, log, workspace, seconds_left, prepared.views
    )

    (report, gate_s) = _timed(
        _gate, checked, plugins, workspace, prepared, table, folds, winner, model, outcome, metric
    )
    registered = register_winner(
        workspace, run_id, recipe, plugins, table, prepared, winner, model, exported, report.verdict
    )
    write_artifacts(run_dir, table, folds, winner, leaderboard_rows(board, outcome.trials), importance)
    RunState.from_board(recipe_fingerprint(recipe), board).write(run_dir)
    summary = run_summary(
        recipe=recipe,
        run_id=run_id,
        run_dir=run_dir,
        table=table,
        prepared=prepared,
        choice=choice,
        outcome=outcome,
        metric=metric,
        winner=winner,
        importance=importance,
        exported=exported,
        registered=registered,
        gate=report,
        times=PhaseTimes(load_s, refit_s, importance_s, export_s, gate_s),
        duration_s=deadline.elapsed(),
        budget=budget_report(deadline, outcome, notes),
    )
    _write_summary(run_dir, summary)
    summary = _with_report(summary, run_dir, log)
    wait_for_ray_stop()
    return summary
