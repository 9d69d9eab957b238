"""``automl plugins``: every registered component with its kind, name, distribution, version."""

from __future__ import annotations

from typing import Any

from automl.plugins.components import BackboneSpec
from automl.plugins.manager import PluginFailure, get_plugins
from automl.plugins.weights import describe_sources


def plugin_rows() -> tuple[list[dict[str, Any]], list[PluginFailure]]:
    plugins = get_plugins()
    rows = [
        {
            "kind": e.kind,
            "name": e.spec.name,
            "distribution": e.distribution,
            "version": e.version,
            "description": e.spec.description,
            **({"weights": describe_sources(e.spec.weights)} if isinstance(e.spec, BackboneSpec) else {}),
        }
        for e in plugins.entries()
    ]
    return rows, plugins.failures


def render_plugins(rows: list[dict[str, Any]]) -> str:
    header = f"{'KIND':<16} {'NAME':<24} {'DISTRIBUTION':<22} {'VERSION':<10} DESCRIPTION"
    lines = [header]
    for r in rows:
        lines.append(f"{r['kind']:<16} {r['name']:<24} {r['distribution']:<22} {r['version']:<10} {r['description']}")
        if r.get("weights"):
            lines.append(f"{'':<16} {'':<24} {'':<22} {'':<10} weights: {r['weights']}")
    return "\n".join(lines)
