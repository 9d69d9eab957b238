"""``automl models``: list versions with their metrics, aliases and traffic; delete a version;
promote, roll back and abort (``automl.cli.promote`` says what changed)."""

from __future__ import annotations

import sys
from typing import Any

from automl.cli.args import Args, emit
from automl.errors import UserError
from automl.model.exported import planned_runtime
from automl.paths import workspace_dir
from automl.registry.refs import ModelRef
from automl.registry.store import ModelStore


def list_versions(workspace: str | None, only: str | None = None) -> list[dict[str, Any]]:
    store = ModelStore(workspace_dir(workspace))
    names = [ModelRef.parse(only).name] if only else store.names()
    rows = []
    for name in names:
        by_version: dict[int, list[str]] = {}
        for alias, version in store.aliases(name).items():
            by_version.setdefault(version, []).append(alias)
        rollout = store.rollout(name)
        for version in store.versions(name):
            meta = store.meta(name, version)
            rows.append(
                {
                    "name": name,
                    "version": version,
                    "aliases": sorted(by_version.get(version, [])),
                    "metric": meta.metric,
                    "score": meta.score,
                    "best": meta.best.trainer,
                    "created": meta.created,
                    "route": rollout.route_of(version),  # production, canary, shadow or None
                    "traffic": rollout.traffic(version),  # percent of requests it answers
                    "runtime": planned_runtime(meta).runtime,  # what answers: onnx (its export) or native
                }
            )
    return rows


def render_versions(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no models yet: `automl run recipe=NAME` registers one"
    header = (
        f"{'MODEL':<20} {'VERSION':>7}  {'ALIASES':<22} {'METRIC':<18} {'SCORE':>8}  {'BEST':<24} "
        f"{'CREATED':<24}  {'RUNTIME':<8} TRAFFIC"
    )
    lines = [header]
    for r in rows:
        score = f"{r['score']:.4f}" if isinstance(r["score"], int | float) else "-"
        traffic = "shadow" if r["route"] == "shadow" else f"{r['traffic']}%" if r["route"] else "-"
        lines.append(
            f"{r['name']:<20} {r['version']:>7}  {','.join(r['aliases']) or '-':<22} {r['metric'] or '-':<18} "
            f"{score:>8}  {r['best'] or '-':<24} {r['created'] or '-':<24}  {r['runtime']:<8} {traffic}"
        )
    return "\n".join(lines)


def delete_version(ref: str, workspace: str | None) -> dict[str, Any]:
    parsed = ModelRef.parse(ref)
    if parsed.version is None:
        raise UserError(f"model={ref}: name the version to delete, e.g. {parsed.name}:2.")
    store = ModelStore(workspace_dir(workspace))
    name, version = store.resolve(parsed)
    store.delete(name, version)
    return {"name": name, "version": version}


def cmd_models(args: Args, sub: list[str]) -> int:
    action = sub[0] if sub else "list"
    if action == "list":
        rows = list_versions(args.get("workspace"), args.get("model"))
        args.finish("models")
        emit(args, rows, render_versions(rows))
    elif action == "delete":
        ref, workspace = args.require("model", "NAME:VERSION to delete"), args.get("workspace")
        args.finish("models delete")
        deleted = delete_version(ref, workspace)
        emit(args, deleted, f"deleted {deleted['name']}:{deleted['version']}")
    elif action == "promote":
        from automl.cli.promote import promote_version, store_of, versioned

        ref = args.require("model", "NAME:VERSION to promote")
        for key in ("canary", "shadow"):
            args.get(key)
        store = store_of(args.get("workspace"))
        args.finish("models promote")
        name, version = versioned(store, ref)
        share = args.integer(
            "canary",
            None,
            -sys.maxsize,
            sys.maxsize,
            "give the canary's share of traffic in whole percent, e.g. canary=10",
        )
        shadow = args.flag("shadow", "use shadow=true to run the version in shadow (or leave shadow= out)")
        emit(args, *promote_version(store, name, version, share, shadow))
    elif action == "history":
        from automl.cli.rollout import show_history

        return show_history(args)
    elif action in ("rollback", "abort"):
        from automl.cli.promote import abort_rollout, rollback_model

        ref, workspace = args.require("model", f"the NAME of the model to {action}"), args.get("workspace")
        args.finish(f"models {action}")
        emit(args, *(rollback_model if action == "rollback" else abort_rollout)(ref, workspace))
    else:
        raise UserError(
            f"automl models {action}: unknown action; use list, history, promote, rollback, abort or delete."
        )
    return 0
