"""The Ray Tune trainable: cross-validate one configuration, reporting after every fold.

ASHA sees one result per fold and can stop a weak configuration early; the last report carries
the out-of-fold probabilities as a checkpoint, which the driver reads back for ensembling,
threshold tuning and the run's ``oof.parquet``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from automl.config.validate import typed_options
from automl.evaluate.cv import TrialData, cross_validate
from automl.evaluate.scoring import score
from automl.evaluate.trials import TRIAL_CONFIG_KEY, TrialConfig
from automl.features.views import view_key
from automl.plugins.manager import get_plugins

OOF_FILE = "oof.npy"


def cv_trial(config: dict[str, Any], data: TrialData | None = None, metric: str = "") -> None:
    from ray import tune

    assert data is not None
    started = time.perf_counter()
    trial = TrialConfig.from_json(config[TRIAL_CONFIG_KEY])
    plugins = get_plugins()
    trainer = plugins.trainers.get(trial.trainer)
    metric_spec = plugins.metrics.get(metric)
    params = typed_options(trainer.config_cls, trial.params, f"search.space.{trainer.name}")
    n_folds = int(data.folds.max()) + 1
    scores: list[float] = []
    view = view_key(trainer.inputs, trial.backbone)
    for k, oof in cross_validate(trainer, params, data.views[view], data.contexts[view], data.y, data.folds):
        valid = data.folds == k
        scores.append(score(metric_spec, data.y[valid], oof[valid]))
        result = {
            "score": float(np.mean(scores)),
            "folds_done": k + 1,
            "n_folds": n_folds,
            "fold_scores": list(scores),
            "work_s": time.perf_counter() - started,
        }
        if k + 1 < n_folds:
            tune.report(result)
            continue
        with tempfile.TemporaryDirectory() as tmp:
            np.save(Path(tmp) / OOF_FILE, oof)
            tune.report(result, checkpoint=tune.Checkpoint.from_directory(tmp))
