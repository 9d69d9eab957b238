"""``automl gc``: each model's invokes kept as long as its recipe says (``deploy.retention_days``
of the production version's recipe), the invokes of models no longer registered by the default."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from automl.cli.args import Args, emit
from automl.errors import UserError, did_you_mean
from automl.registry.meta import BundleMeta
from automl.registry.store import ModelStore
from automl.store.invokes import query_invokes
from automl.store.invokes.gc_rules import DEFAULT_RETENTION_DAYS, GcResult, check_days
from automl.store.invokes.retention import gc


def recipe_retention(meta: BundleMeta, ref: str) -> float | None:
    """``deploy.retention_days`` of the recipe a version was trained by (the default for a version
    saved before the recipe had the key)."""
    deploy = meta.recipe.get("deploy") or {}
    if "retention_days" not in deploy:
        return DEFAULT_RETENTION_DAYS
    return check_days(deploy["retention_days"], f"deploy.retention_days of {ref}")


def registered_retention(workspace: Path | str) -> dict[str, float | None]:
    """Per registered model, the retention its production version's recipe sets (its newest
    version's when none is production): what the server that logs its invokes runs by."""
    store = ModelStore(Path(workspace))
    retention: dict[str, float | None] = {}
    for name in store.names():
        versions = store.versions(name)
        if versions:
            production = store.rollout(name).production
            version = production if production in versions else versions[-1]
            retention[name] = recipe_retention(_meta(store, name, version), f"{name}:{version}")
    return retention


def _meta(store: ModelStore, name: str, version: int) -> BundleMeta:
    try:
        return store.meta(name, version)
    except UserError as err:  # e.g. a bundle of an older format
        raise UserError(f"{err} (gc reads its deploy.retention_days; retention_days=N does without it)") from None


def gc_by_recipe(
    workspace: Path | str,
    model: str | None = None,
    retention_days: float | None = None,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    timeout_s: float = 60,
) -> GcResult:
    """``automl gc``: every model's invokes by its recipe (``registered_retention``), those of models
    no longer registered by the default; ``retention_days`` overrides both, ``model`` restricts gc
    to one model (the result then names only it)."""
    default: float | None
    if retention_days is None:
        retention, default = registered_retention(workspace), DEFAULT_RETENTION_DAYS
    else:
        default = check_days(retention_days, "retention_days")
        retention = dict.fromkeys(ModelStore(Path(workspace)).names(), default)
    if model is not None:
        _check_model(workspace, model, retention)
        retention, default = {model: retention.get(model, default)}, None
    result = gc(workspace, retention, default_days=default, dry_run=dry_run, now=now, timeout_s=timeout_s)
    if model is not None:
        result = replace(result, models=tuple(m for m in result.models if m.model == model))
    return result


def _check_model(workspace: Path | str, model: str, registered: Mapping[str, object]) -> None:
    """A model to gc is registered, or has invokes in the log (one deleted from the registry)."""
    logged = set(query_invokes(workspace, "SELECT DISTINCT model FROM invokes")["model"])
    if model not in registered and model not in logged:
        known = sorted(set(registered) | logged)
        raise UserError(
            f"model={model}: not registered in {workspace} and no invokes of it logged{did_you_mean(model, known)}. "
            f"Models: {', '.join(known) or 'none'}."
        )


def describe(result: GcResult, workspace: Path, registered: list[str]) -> str:
    """One line per model (its retention, cutoff and what went), then the totals."""
    verb = "would delete" if result.dry_run else "deleted"
    lines = []
    for m in result.models:
        name = m.model if m.model in registered else f"{m.model} (not registered)"
        if m.cutoff is None:
            lines.append(f"{name}: kept forever (retention_days: null)")
        else:
            when = m.cutoff.strftime("%Y-%m-%d %H:%M UTC")
            gone = f"{verb} {m.invokes} invokes, {m.blobs} input files"
            lines.append(f"{name}: keep {m.retention_days:g} days, cutoff {when}: {gone}")
    if not result.models:
        lines.append(f"no models and no invokes in {workspace}")
    tail = "; dry run, nothing was deleted" if result.dry_run else ""
    lines.append(f"total: {verb} {result.invokes} invokes, {result.blobs} input files{tail}")
    return "\n".join(lines)


def cmd_gc(args: Args, sub: list[str]) -> int:
    from automl.paths import workspace_dir

    workspace = workspace_dir(args.get("workspace"))
    model = args.get("model")
    days = args.number(
        "retention_days",
        None,
        "give the days to keep as a number >= 0 (e.g. retention_days=30), "
        "or leave it out to keep each model's deploy.retention_days",
        low=0.0,
    )
    dry_run = args.flag("dry_run", "use dry_run=true to count what gc would delete without deleting it")
    args.finish("gc")
    result = gc_by_recipe(workspace, model, days, dry_run=dry_run)
    text = describe(result, workspace, ModelStore(workspace).names())
    emit(args, {"workspace": str(workspace), **result.to_json()}, text)
    return 0
