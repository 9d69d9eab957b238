"""Promotion: applying the gate's verdict to a new version (production, a rollout toward it, or
the candidate), and the manual moves: promote fully, start a canary or a shadow, abort it, roll back."""

from __future__ import annotations

from dataclasses import dataclass

from automl.errors import UserError
from automl.registry.rollout import RolloutState, Step, Transition
from automl.registry.store import CANDIDATE, PRODUCTION, ModelStore


@dataclass(frozen=True)
class Verdict:
    """The gate's answer for one new version: whether it earned production, compared with which
    production version (None: there was none), and why, in one line."""

    promote: bool
    compared_with: int | None
    reason: str


@dataclass(frozen=True)
class Gated:
    alias: str  # production or candidate
    reason: str  # why, in one line (the verdict's, or why it could not be applied)
    rollout: bool = False  # a rollout started instead of an immediate promotion


def apply_gate(store: ModelStore, name: str, version: int, verdict: Verdict, steps: tuple[Step, ...] = ()) -> Gated:
    """Give ``version`` the alias the gate's ``verdict`` earned, or start the recipe's rollout
    (``steps``) toward production.

    The check that production is still the version the run compared with and the write happen
    under the model's lock, in one ``update_rollout``: two runs finishing at once cannot both
    become production (the second finds production changed and stays a candidate)."""
    outcome: list[Gated] = []

    def decide(state: RolloutState) -> RolloutState:
        if verdict.promote and state.production != verdict.compared_with:
            reason = (
                f"production became version {state.production} while this run compared with "
                f"{verdict.compared_with or 'none'}; run again to compare with it"
            )
            outcome.append(Gated(CANDIDATE, reason))
            return state.after_run(version, False, why=reason)
        if not verdict.promote:
            outcome.append(Gated(CANDIDATE, verdict.reason))
            return state.after_run(version, False, why=verdict.reason)
        after = (
            state.with_rollout(version, steps, why=verdict.reason)
            if steps
            else state.after_run(version, True, why=verdict.reason)
        )
        rolling = after.production != version
        outcome.append(Gated(CANDIDATE if rolling else PRODUCTION, verdict.reason, rolling))
        return after

    store.update_rollout(name, decide)
    return outcome[-1]


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
