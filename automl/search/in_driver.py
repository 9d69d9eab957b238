"""A retrain's few configurations cross-validated in the driver process, without Ray.

A retrain re-evaluates the last run's best configurations (``search.retrain_top_k``, 5 by default)
on grown data: a handful of fits whose seconds are less than starting Ray and its trial processes.
So on a local run they are cross-validated here, one after the other with every core; a run on a
Ray cluster (``ray.address``) still sends them to the cluster. A configuration that raises is
recorded as failed with its error, as a Ray trial's would be, and the others go on.
"""

from __future__ import annotations

import dataclasses
import os
import time

import numpy as np

from automl.config.validate import typed_options
from automl.evaluate.cv import TrialData, cross_validate, one_blas_thread
from automl.evaluate.scoring import score
from automl.evaluate.trials import TrialConfig, TrialRecord
from automl.features.views import view_key
from automl.plugins.manager import Plugins
from automl.search.progress import SearchProgress, last_line


def _evaluate(plugins: Plugins, data: TrialData, config: TrialConfig, metric: str) -> TrialRecord:
    started = time.perf_counter()
    try:
        trainer = plugins.trainers.get(config.trainer)
        params = typed_options(trainer.config_cls, config.params, f"search.space.{trainer.name}")
        view = view_key(trainer.inputs, config.backbone)
        ctx = dataclasses.replace(data.contexts[view], n_jobs=os.cpu_count() or 1)
        metric_spec = plugins.metrics.get(metric)
        scores: list[float] = []
        oof = np.empty(0)
        for k, oof in cross_validate(trainer, params, data.views[view], ctx, data.y, data.folds):
            valid = data.folds == k
            scores.append(score(metric_spec, data.y[valid], oof[valid]))
    except Exception as err:  # noqa: BLE001 - recorded like a failed Ray trial; the run goes on
        return TrialRecord.of(config, "failed", error=last_line(f"{type(err).__name__}: {err}"))
    return TrialRecord.of(
        config,
        "completed",
        score=float(np.mean(scores)),
        fold_scores=scores,
        work_s=time.perf_counter() - started,
        oof=oof,
    )


def evaluate_in_driver(
    plugins: Plugins, data: TrialData, configs: list[TrialConfig], metric: str, progress: SearchProgress | None
) -> list[TrialRecord]:
    """Every config cross-validated to the end, in order."""
    records = []
    n_folds = int(data.folds.max()) + 1
    for config in configs:
        with one_blas_thread():
            record = _evaluate(plugins, data, config, metric)
        records.append(record)
        if progress:
            result = None
            if record.status == "completed":
                result = {"score": record.score, "folds_done": n_folds, "n_folds": n_folds}
            progress.trial_done(record.trainer, result, error=record.error)
    return records
