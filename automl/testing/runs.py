"""A run folder without a run: ``fake_run`` writes the files ``automl run`` leaves (summary,
leaderboard, out-of-fold predictions, folds) through the same writers, from synthetic trials. For
the run report's tests and benchmark, which need a run of a chosen size in well under a second."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from automl.data.splits import stratified_folds
from automl.data.table import ExampleTable
from automl.evaluate.artifacts import leaderboard_rows, write_artifacts
from automl.evaluate.leaderboard import build_leaderboard
from automl.evaluate.scoring import fold_scores
from automl.evaluate.trials import TrialRecord
from automl.plugins.manager import get_plugins
from automl.registry.meta import BestConfig
from automl.train.summary import BackboneReport, BudgetReport, DataReport, ModelVersion, RunSummary, Timing

TRAINERS = ("logistic_regression", "random_forest", "extra_trees", "hist_gradient_boosting")


def _proba(y: np.ndarray, shared: np.ndarray, signal: float, rng: np.random.Generator) -> np.ndarray:
    """Probabilities that favour the true class by ``signal`` (logits), with noise mostly shared
    by every trial (hard examples are hard for every model, so an ensemble gains a little)."""
    logits = shared + rng.normal(0.0, 0.5, shared.shape)
    logits[np.arange(len(y)), y] += signal
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def fake_trials(
    y: np.ndarray, folds: np.ndarray, n_classes: int, n_trials: int, metric: str, seed: int
) -> list[TrialRecord]:
    """``n_trials`` trials in configuration order: most complete, every fifth is stopped after
    its first fold (as ASHA stops them), every ninth fails."""
    spec = get_plugins().metrics.get(metric)
    rng = np.random.default_rng(seed)
    shared = rng.normal(0.0, 1.2, (len(y), n_classes))
    trials = []
    for i in range(n_trials):
        trainer = TRAINERS[i % len(TRAINERS)]
        params = {"seed": i, "strength": round(float(rng.uniform(0.5, 3.0)), 3)}
        work_s = round(float(rng.uniform(0.2, 3.0)), 3)
        if i % 9 == 8:
            trials.append(TrialRecord(i, trainer, params, None, "failed", work_s=work_s, error="ValueError: diverged"))
            continue
        oof = _proba(y, shared, float(params["strength"]), rng)
        scores = fold_scores(spec, y, oof, folds)
        if i % 5 == 4:
            trials.append(TrialRecord(i, trainer, params, None, "stopped", scores[0], scores[:1], work_s / 5))
        else:
            trials.append(
                TrialRecord(i, trainer, params, None, "completed", float(np.mean(scores)), scores, work_s, oof=oof)
            )
    return trials


def fake_run(
    run_dir: Path,
    *,
    classes: Sequence[str] = ("Adelie", "Chinstrap", "Gentoo"),
    examples: int = 300,
    trials: int = 12,
    n_folds: int = 5,
    metric: str = "f1_macro",
    seed: int = 0,
) -> RunSummary:
    """Write a run folder of ``examples`` out-of-fold predictions over ``classes`` and ``trials``
    trials (with an ensemble), its winner registered as version 2 after a gate against version 1;
    returns the summary it wrote."""
    run_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(examples) % len(classes))
    folds = stratified_folds(y, n_folds, seed)
    labels = np.array([classes[k] for k in y], dtype=object)
    ids = np.array([f"{i:032x}" for i in range(examples)], dtype=object)
    table = ExampleTable(pd.DataFrame({"x": np.arange(examples)}), labels, ids, np.arange(examples), list(classes))
    records = fake_trials(y, folds, len(classes), trials, metric, seed)
    spec = get_plugins().metrics.get(metric)
    board = build_leaderboard(records, y, folds, spec, len(classes) == 2 and spec.score_labels is not None, 25)
    winner = board[0]
    write_artifacts(run_dir, table, folds, winner, leaderboard_rows(board, records), [])
    reason = f"{metric} {winner.score:.4f} vs production's {winner.score - 0.01:.4f} on the same examples"
    summary = RunSummary(
        recipe=run_dir.parent.name,
        task="tabular_classification",
        metric=metric,
        score=winner.score,
        score_std=winner.score_std,
        fold_scores=winner.fold_scores,
        threshold=winner.threshold,
        best=BestConfig(winner.trainer, winner.backbone, winner.params),
        trials=len(records),
        failed_trials=sum(t.status == "failed" for t in records),
        left_out=[],
        stopped_trials=sum(t.status == "stopped" for t in records),
        mode="search",
        mode_reason="no previous run of this recipe",
        previous_run=None,
        data_change=None,
        recipe_hash="0123456789abcdef",
        duration_s=30.0,
        budget=BudgetReport(60.0, 40.0, "every configuration ran", []),
        timing=Timing(0.1, 3.0, 20.0, sum(t.work_s or 0.0 for t in records), 0.5, 0.2, 0.0, 0.3),
        model=ModelVersion(run_dir.parent.name, 2, "production", False, reason),
        data=DataReport(examples, 0, [], table.content_hash),
        importance=[],
        export=None,
        backbones=BackboneReport([], [], {}),
        run_id=run_dir.name,
        run_dir=str(run_dir),
        gate={
            "promote": True,
            "reason": reason,
            "production": 1,
            "same_configuration": False,
            "compared_on": "out-of-fold predictions on this run's folds",
            "comparison": {
                "metric": metric,
                "examples": examples,
                "candidate": winner.score,
                "production": winner.score - 0.01,
                "improvement": 0.01,
                "low": 0.002,
                "share_better": 0.97,
                "share_not_worse": 1.0,
                "margin": 0.0,
                "confidence": 0.95,
                "resamples": 1000,
                "rule": "superiority",
                "passed": True,
            },
            "production_members_reused": 0,
            "tests": [],
        },
    )
    (run_dir / "summary.json").write_text(json.dumps(summary.to_json(), indent=2, default=str))
    return summary
