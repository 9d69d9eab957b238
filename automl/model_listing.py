"""``automl models``: list versions with their metrics, aliases and traffic; delete a version."""

from __future__ import annotations

from typing import Any

from automl.errors import UserError
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
                    "metric": meta.get("metric"),
                    "score": meta.get("score"),
                    "best": meta.get("best", {}).get("trainer"),
                    "created": meta.get("created"),
                    "route": rollout.route_of(version),  # production, canary, shadow or None
                    "traffic": rollout.traffic(version),  # percent of requests it answers
                }
            )
    return rows


def render_versions(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no models yet: `automl run recipe=NAME` registers one"
    header = (
        f"{'MODEL':<20} {'VERSION':>7}  {'ALIASES':<22} {'METRIC':<18} {'SCORE':>8}  {'BEST':<24} "
        f"{'CREATED':<24}  TRAFFIC"
    )
    lines = [header]
    for r in rows:
        score = f"{r['score']:.4f}" if isinstance(r["score"], int | float) else "-"
        traffic = "shadow" if r["route"] == "shadow" else f"{r['traffic']}%" if r["route"] else "-"
        lines.append(
            f"{r['name']:<20} {r['version']:>7}  {','.join(r['aliases']) or '-':<22} {r['metric'] or '-':<18} "
            f"{score:>8}  {r['best'] or '-':<24} {r['created'] or '-':<24}  {traffic}"
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
