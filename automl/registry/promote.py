"""Promotion: the gate a run passes (a new version becomes production only if it beats production's
score), and the manual moves: promote fully, start a canary or a shadow, abort it, roll back."""

from __future__ import annotations

from automl.errors import UserError
from automl.plugins.components import MetricSpec
from automl.registry.rollout import RolloutState, Transition
from automl.registry.store import CANDIDATE, PRODUCTION, ModelStore


def promote_if_better(store: ModelStore, name: str, version: int, score: float, metric: MetricSpec) -> str:
    """Set the alias the new version earns and return it: production or candidate.

    The comparison with production and the write happen under the model's lock, in one
    ``update_rollout``: two runs finishing at once cannot both read the old production and both
    become production."""
    promoted: list[bool] = []

    def decide(state: RolloutState) -> RolloutState:
        better = True
        if state.production is not None:
            previous = store.meta(name, state.production)
            if (
                previous.metric == metric.name
                and previous.score is not None
                and not metric.better(score, previous.score)
            ):
                better = False
        promoted.append(better)
        # A promoted version ends the candidate (an older candidate has nothing left to be a
        # candidate for); one that is not promoted becomes the candidate, taking no traffic.
        return state.after_run(version, better)

    store.update_rollout(name, decide)
    return PRODUCTION if promoted[-1] else CANDIDATE


def promote(store: ModelStore, name: str, version: int, canary: int | None = None, shadow: bool = False) -> Transition:
    """``version`` becomes production (all traffic), a canary taking ``canary`` % of requests, or a
    shadow. ``version`` must be registered (``store.resolve`` checks it)."""
    if canary is not None and shadow:
        raise UserError(
            "canary= and shadow=true do not go together: a version either answers a share of "
            "requests (canary=PERCENT) or is called beside production without answering (shadow=true)."
        )
    if canary is not None:
        return store.update_rollout(name, lambda state: state.with_canary(version, canary))
    if shadow:
        return store.update_rollout(name, lambda state: state.with_shadow(version))
    return store.update_rollout(name, lambda state: state.promoted(version))


def rollback(store: ModelStore, name: str) -> Transition:
    """Production goes back to the production version before the current one; a canary or shadow ends."""

    def back(state: RolloutState) -> RolloutState:
        after = state.rolled_back()
        if after.production not in store.versions(name):
            raise UserError(
                f"{name}: the production version before {state.production} was {after.production}, which "
                f"has been deleted; promote the version you want with automl models promote model={name}:VERSION."
            )
        return after

    return store.update_rollout(name, back)


def abort(store: ModelStore, name: str) -> Transition:
    """End the canary or shadow; its version stays registered as the (idle) candidate."""
    return store.update_rollout(name, lambda state: state.aborted())
