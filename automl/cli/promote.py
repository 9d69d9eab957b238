"""``automl models promote | rollback | abort``: check the arguments, change the model's rollout
state, and say what changed (``before`` and ``after`` for ``--json``, one line otherwise)."""

from __future__ import annotations

from typing import Any

from automl.errors import UserError
from automl.paths import workspace_dir
from automl.registry import promote as promotion
from automl.registry.refs import ModelRef
from automl.registry.rollout import CANARY, SHADOW
from automl.registry.store import ModelStore


def store_of(workspace: str | None) -> ModelStore:
    return ModelStore(workspace_dir(workspace))


def versioned(store: ModelStore, ref: str) -> tuple[str, int]:
    """(name, version) of a reference that names its version by number."""
    parsed = ModelRef.parse(ref)
    if parsed.version is None:
        hint = f"e.g. model={parsed.name}:2"
        if parsed.alias is not None:
            try:
                hint = f"model={parsed.name}:{store.resolve(parsed)[1]} is what {parsed} means now"
            except UserError:
                pass
        raise UserError(f"model={ref}: name the version to promote by its number ({hint}).")
    return store.resolve(parsed)


def named(store: ModelStore, ref: str, action: str) -> str:
    """The model name of a reference that must be just a name."""
    parsed = ModelRef.parse(ref)
    if parsed.version is not None or parsed.alias is not None:
        raise UserError(
            f"model={ref}: {action} takes the model's name (model={parsed.name}); to make one version "
            f"production, use automl models promote model={parsed.name}:VERSION."
        )
    if not store.versions(parsed.name):
        store.resolve(parsed)  # raises the error that lists the models there are
    return parsed.name


def _said(name: str, action: str, version: int, change: promotion.Transition, line: str) -> tuple[dict[str, Any], str]:
    """The ``--json`` answer (``before`` and ``after`` without history) and the one-line answer.
    A canary or shadow of another version that the change ended is named at the end of the line."""
    before, after = change
    if before.mode in (CANARY, SHADOW) and (before.candidate != version or action == "rollback"):
        line += f"; the {before.mode} of version {before.candidate} ended"
    result = {"name": name, "action": action, "version": version, "before": before.summary(), "after": after.summary()}
    return result, line


def promote_version(
    store: ModelStore, name: str, version: int, share: int | None, shadowed: bool
) -> tuple[dict[str, Any], str]:
    """Make ``name:version`` production, a canary taking ``share`` % of traffic, or a shadow."""
    change = promotion.promote(store, name, version, share, shadowed)
    before, after = change
    if share is not None:
        was = f", was {before.percent}%" if before.canary == version and before.percent != share else ""
        line = f"{name}: version {version} gets {share}% of traffic (canary{was}); production stays {after.production}"
        return _said(name, CANARY, version, change, line)
    if shadowed:
        line = (
            f"{name}: version {version} runs in shadow (called and logged, never answering); "
            f"production stays {after.production}"
        )
        return _said(name, SHADOW, version, change, line)
    was = f" (was {before.production}, still loadable as {name}:{before.production})" if before.production else ""
    return _said(name, "promote", version, change, f"{name}: version {version} is production and gets all traffic{was}")


def rollback_model(ref: str, workspace: str | None) -> tuple[dict[str, Any], str]:
    store = store_of(workspace)
    name = named(store, ref, "rollback")
    change = promotion.rollback(store, name)
    before, after = change
    version = after.production or 0
    line = f"{name}: production rolled back to version {version} (was {before.production})"
    return _said(name, "rollback", version, change, line)


def abort_rollout(ref: str, workspace: str | None) -> tuple[dict[str, Any], str]:
    store = store_of(workspace)
    name = named(store, ref, "abort")
    change = promotion.abort(store, name)
    before, after = change
    version = before.candidate or 0
    line = (
        f"{name}: the {before.mode} of version {version} ended (it stays the candidate, taking no traffic); "
        f"production {after.production} answers every request"
    )
    return _said(name, "abort", version, change, line)
