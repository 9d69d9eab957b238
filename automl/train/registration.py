"""Registering a run's winner: the next version of the recipe's model, with its metadata and
lineage, then the gate's verdict applied (``automl.registry.promote.apply_gate``).

Its own module because a version's metadata is read far from the run that wrote it: loading and
serving a model (classes, task, features or input column, threshold), ``automl models`` (metric,
score, best, created), a newer automl refusing an old bundle (lineage packages) and ``automl gc``
(the lineage recipe's retention). What it holds is decided here, in one place.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata as md
from pathlib import Path
from typing import Any, NamedTuple

from automl.clock import utc_now
from automl.config.schema import Recipe
from automl.data.table import ExampleTable
from automl.evaluate.leaderboard import LeaderboardEntry
from automl.features.prepare import Prepared
from automl.features.views import FEATURES_VIEW
from automl.model.fitted import FittedModel
from automl.plugins.manager import Plugins
from automl.registry.meta import BestConfig, BundleMeta
from automl.registry.promote import Verdict, apply_gate
from automl.registry.store import ModelStore
from automl.train.export import ExportOutcome

CORE_PACKAGES = ("automl", "scikit-learn", "numpy", "pandas", "ray", "hydra-core", "pluggy")


class Registered(NamedTuple):
    version: int
    alias: str  # "production" or "candidate", as apply_gate left it
    reason: str  # why, in one line
    rollout: bool  # a rollout toward production started


def _version(dist: str) -> str:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "not installed"


def _lineage(
    recipe: Recipe, run_id: str, plugins: Plugins, table: ExampleTable, winner: LeaderboardEntry
) -> dict[str, Any]:
    """Where the version comes from: the recipe, the run, the data's hash, the seed, and the versions
    of automl's core packages and of the distributions that gave the winner's trainers and backbones."""
    distributions = sorted(
        {plugins.trainers.entry(m.trainer).distribution for m in winner.members}
        | {plugins.backbones.entry(m.backbone).distribution for m in winner.members if m.backbone}
    )
    return {
        "recipe": dataclasses.asdict(recipe),
        "run_id": run_id,
        "data_hash": table.content_hash,
        "seed": recipe.seed,
        "packages": {p: _version(p) for p in CORE_PACKAGES},
        "plugins": {d: _version(d) for d in distributions},
    }


def register_winner(
    workspace: Path,
    run_id: str,
    recipe: Recipe,
    plugins: Plugins,
    table: ExampleTable,
    prepared: Prepared,
    winner: LeaderboardEntry,
    model: FittedModel,
    exported: ExportOutcome | None,
    verdict: Verdict,
) -> Registered:
    """Save ``model`` (and the exported files) as the next version of ``recipe.name``, then apply
    the gate's ``verdict``: production, the recipe's rollout toward it, or ``candidate``."""
    store = ModelStore(workspace)
    metric = plugins.metrics.get(recipe.eval.metric)
    meta = BundleMeta(
        task=recipe.task.type,
        classes=list(table.classes),
        metric=metric.name,
        score=winner.score,
        score_std=winner.score_std,
        threshold=winner.threshold,
        features=list(table.features.columns) if FEATURES_VIEW in prepared.views else None,
        input_column=recipe.data.text_column or recipe.data.image_column,
        best=BestConfig(winner.trainer, winner.backbone, dict(winner.params)),
        lineage=_lineage(recipe, run_id, plugins, table, winner),
        created=utc_now(),
        export=exported.report if exported else None,
        embedding_identity=model.embedding_identity,
    )
    attachments = {"export": exported.folder} if exported and exported.folder else None
    version = store.register(recipe.name, model, meta, attachments=attachments)
    steps = tuple(recipe.deploy.rollout.steps)
    gated = apply_gate(store, recipe.name, version, verdict, steps)
    return Registered(version, gated.alias, gated.reason, gated.rollout)
