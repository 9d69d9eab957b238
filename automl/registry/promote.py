"""The promotion gate: a new version becomes production only if it beats production's score."""

from __future__ import annotations

from automl.plugins.components import MetricSpec
from automl.registry.store import CANDIDATE, PRODUCTION, ModelStore


def promote_if_better(store: ModelStore, name: str, version: int, score: float, metric: MetricSpec) -> str:
    """Set the alias the new version earns and return it: production or candidate."""
    current = store.aliases(name).get(PRODUCTION)
    if current is not None:
        previous = store.meta(name, current)
        same_metric = previous.get("metric") == metric.name
        if same_metric and not metric.better(score, float(previous["score"])):
            store.set_alias(name, CANDIDATE, version)
            return CANDIDATE
    store.set_alias(name, PRODUCTION, version)
    # A candidate older than the new production version has nothing left to be a candidate for.
    store.set_alias(name, CANDIDATE, None)
    return PRODUCTION
