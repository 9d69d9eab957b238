"""Retraining is not re-searching: decide, from the last run of the same recipe, whether this run
re-evaluates that run's best configurations on the new data (``retrain``) or searches (``search``).

A retrain happens in ``auto`` mode when the recipe (everything but the workspace) is unchanged and
the examples changed by at most ``search.retrain_max_change`` (added plus removed, as a share of
the last run's examples). With the embedding cache, that makes "retrain on every new batch of
labels" cost the new embeddings and a handful of cheap trials.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from automl.config.schema import Recipe
from automl.errors import UserError
from automl.evaluate.trials import TrialConfig
from automl.search.run_state import STATE_FILE, RunState


@dataclass(frozen=True)
class ModePlan:
    mode: str  # search | retrain
    reason: str
    previous_run: str | None = None
    data_change: float | None = None
    configs: list[TrialConfig] = field(default_factory=list)


def recipe_fingerprint(recipe: Recipe) -> str:
    """What makes two runs "the same recipe": every key but the workspace, the mode switch, how
    long invokes are kept, the export and serving keys, and the gate, tests, rollout, loop and
    monitoring sections (none of them changes what a search would find)."""
    content = dataclasses.asdict(recipe)
    content.pop("workspace", None)
    content["search"].pop("mode", None)
    content["deploy"].pop("retention_days", None)
    # How a version is gated, tested, exported, rolled out and looped does not change what a
    # search finds.
    for key in ("rollout", "export", "export_options", "export_check_rows", "backend"):
        content["deploy"].pop(key, None)
    content["eval"].pop("gate", None)
    content["eval"].pop("tests", None)
    content.pop("loop", None)
    content.pop("monitor", None)
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:16]


def last_run(workspace: Path, name: str) -> Path | None:
    """The folder of the recipe's last finished run (one with a summary), if any."""
    runs = sorted((workspace / "runs" / name).glob("*/summary.json"))
    return runs[-1].parent if runs else None


def could_retrain(recipe: Recipe, workspace: Path) -> bool:
    """Whether :func:`plan_mode` may choose a retrain, known before the data is loaded: a previous
    run exists and (in auto mode) had this very recipe."""
    if recipe.search.mode == "search":
        return False
    previous = last_run(workspace, recipe.name)
    if previous is None:
        return False
    if recipe.search.mode == "retrain":
        return True
    state = RunState.read(previous)
    return state is not None and state.recipe_hash == recipe_fingerprint(recipe)


def plan_mode(recipe: Recipe, ids: list[str], workspace: Path) -> ModePlan:
    s = recipe.search
    if s.mode == "search":
        return ModePlan("search", "search.mode=search")
    previous = last_run(workspace, recipe.name)
    if previous is None:
        if s.mode == "retrain":
            raise UserError(
                f"search.mode=retrain: no previous run of '{recipe.name}' in {workspace}; run a search first."
            )
        return ModePlan("search", "no previous run of this recipe")
    state = RunState.read(previous)
    if state is None:
        if s.mode == "retrain":
            raise UserError(
                f"search.mode=retrain: the last run ({previous.name}) was saved by an older automl without "
                f"{STATE_FILE}; run a search first."
            )
        return ModePlan("search", f"the last run has no {STATE_FILE} (saved by an older automl)", previous.name)
    import pandas as pd

    before = set(pd.read_parquet(previous / "folds.parquet", columns=["example_id"])["example_id"])
    now = set(ids)
    change = len(before ^ now) / max(1, len(before))
    if s.mode == "auto":
        if state.recipe_hash != recipe_fingerprint(recipe):
            return ModePlan("search", "the recipe changed since the last run", previous.name, change)
        if change > s.retrain_max_change:
            return ModePlan(
                "search", f"the data changed by {change:.0%} > search.retrain_max_change", previous.name, change
            )
    configs = [dataclasses.replace(c, index=i) for i, c in enumerate(state.ranked[: s.retrain_top_k])]
    if not configs:
        if s.mode == "retrain":
            raise UserError(f"search.mode=retrain: the last run ({previous.name}) has no completed configuration.")
        return ModePlan("search", "the last run has no completed configuration", previous.name, change)
    reason = "search.mode=retrain" if s.mode == "retrain" else f"same recipe, data changed by {change:.1%}"
    return ModePlan("retrain", reason, previous.name, change, configs)
