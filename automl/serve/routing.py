"""Which version answers a request, from the model's rollout state (read on every request, so a
promote, canary, shadow or rollback applies to the next request without a restart)."""

from __future__ import annotations

from dataclasses import dataclass

from automl.registry.rollout import RandomSource, RolloutState, route

PINNED = "pinned"
"""The route logged for ``/versions/{v}/predict``: the caller chose the version, no split did."""


@dataclass(frozen=True)
class Pick:
    version: int
    route: str  # production, canary or pinned
    shadow: int | None  # also call this version (logged as shadow, never answering)
    compare_with: int | None = None  # an automatic rollout's canary answered: call production too (unlogged)


def pick(state: RolloutState, route_key: str | None, rng: RandomSource) -> Pick:
    """The answering version, its route and the shadow version, for the default predict route.

    A ``route_key`` (the ``X-Route-Key`` header) makes the canary split stable per caller."""
    version, name = route(state, route_key, rng)
    compare = state.production if state.plan is not None and version == state.canary else None
    return Pick(version, name, state.shadow, compare)


def pinned(version: int) -> Pick:
    """A request for one version: never split, never shadowed."""
    return Pick(version, PINNED, None)
