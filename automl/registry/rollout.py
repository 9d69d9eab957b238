"""The rollout state of one model and the traffic split the server routes by.

A model has a ``production`` version (it answers) and at most one ``candidate``: a canary that
answers a share of requests (``percent``, 1..99), a shadow that is called and logged on every
request but never answers, or an idle candidate (a run that did not beat production) that takes
no traffic. ``history`` lists every production change (version, when, how: run, promote,
rollout, rollback), so that ``rollback`` knows the version before; ``events`` is the audit trail
of every move with when and why (``automl models history``). An automatic rollout (``plan``)
walks the candidate through the recipe's ``deploy.rollout.steps``. The state is pure data: each
transition returns a new state, and ``ModelStore`` keeps it in ``models/NAME/rollout.json``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any, NamedTuple, Protocol

from automl.clock import utc_now
from automl.errors import UserError

FORMAT = 1
PRODUCTION = "production"
CANARY = "canary"
SHADOW = "shadow"
IDLE = "idle"
MODES = (CANARY, SHADOW, IDLE)
HOW = ("run", "promote", "rollout", "rollback")
FULL = 100  # the last step of a rollout: all traffic
BY_HAND = "by hand"


def now() -> str:
    """The time a change is recorded with (``automl.clock.utc_now``)."""
    return utc_now()


@dataclass(frozen=True)
class Change:
    """One production change: the version that became production, when (None: before automl kept
    a history) and how (``run``, ``promote`` or ``rollback``)."""

    version: int
    at: str | None
    how: str

    def __post_init__(self) -> None:
        if self.how not in HOW:
            raise ValueError(f"how={self.how!r}: expected one of {', '.join(HOW)}")


@dataclass(frozen=True)
class Event:
    """One line of the audit trail: when, which version, what happened and why."""

    at: str
    version: int
    action: str  # run, promote, canary, shadow, rollout, step, analysis, rollback, abort
    why: str

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "version": self.version, "action": self.action, "why": self.why}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Event:
        return cls(str(data["at"]), int(data["version"]), str(data["action"]), str(data.get("why", "")))


Step = str | int  # "shadow" or a percent of traffic


def describe(step: Step) -> str:
    return "shadow" if step == SHADOW else f"{step}%"


@dataclass(frozen=True)
class RolloutPlan:
    """An automatic rollout in progress: the steps, the one the candidate is on, since when, and
    how many analyses have failed on it."""

    steps: tuple[Step, ...]
    step: int = 0
    since: str = ""
    failures: int = 0

    def __post_init__(self) -> None:
        if not self.steps or not 0 <= self.step < len(self.steps):
            raise ValueError(f"step {self.step} of {len(self.steps)} steps")

    @property
    def current(self) -> Step:
        return self.steps[self.step]

    @property
    def next(self) -> Step | None:
        return self.steps[self.step + 1] if self.step + 1 < len(self.steps) else None

    def to_json(self) -> dict[str, Any]:
        return {"steps": list(self.steps), "step": self.step, "since": self.since, "failures": self.failures}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RolloutPlan:
        steps = tuple(s if s == SHADOW else int(s) for s in data["steps"])
        return cls(steps, int(data["step"]), str(data.get("since", "")), int(data.get("failures", 0)))


@dataclass(frozen=True)
class RolloutState:
    name: str
    production: int | None = None
    candidate: int | None = None
    mode: str = IDLE  # what the candidate does: canary, shadow or idle (no traffic)
    percent: int = 0  # the canary's share of requests, 1..99; 0 unless mode is canary
    history: tuple[Change, ...] = ()
    plan: RolloutPlan | None = None  # an automatic rollout of the candidate, if one runs
    events: tuple[Event, ...] = ()

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode={self.mode!r}: expected one of {', '.join(MODES)}")
        if self.candidate is None and self.mode != IDLE:
            raise ValueError(f"a {self.mode} needs a candidate version")
        if self.candidate is not None and self.candidate == self.production:
            raise ValueError(f"version {self.candidate} cannot be production and candidate")
        if self.mode != IDLE and self.production is None:
            raise ValueError(f"a {self.mode} needs a production version")
        if not (1 <= self.percent <= 99 if self.mode == CANARY else self.percent == 0):
            raise ValueError(f"percent={self.percent} with mode={self.mode}: a canary takes 1..99, others 0")
        if self.plan is not None and self.mode == IDLE:
            raise ValueError("a rollout plan needs a canary or shadow candidate")

    # --- reading -------------------------------------------------------------------------

    @property
    def canary(self) -> int | None:
        """The version answering ``percent`` % of requests, if a canary runs."""
        return self.candidate if self.mode == CANARY else None

    @property
    def shadow(self) -> int | None:
        """The version the server also calls on every request (logged, never answered), if any."""
        return self.candidate if self.mode == SHADOW else None

    def route_of(self, version: int) -> str | None:
        """``production``, ``canary`` or ``shadow``: what ``version`` does for the server."""
        if version == self.production:
            return PRODUCTION
        if version == self.candidate and self.mode != IDLE:
            return self.mode
        return None

    def traffic(self, version: int) -> int:
        """The percent of requests ``version`` answers."""
        if version == self.production:
            return 100 - self.percent
        return self.percent if version == self.canary else 0

    def previous_production(self) -> int | None:
        """The production version before the current one, walking back over earlier rollbacks.

        Runs and promotions push a version, a rollback pops one: after 1 -> 3 -> 7 and a
        rollback to 3, the next rollback goes to 1, not back to 7."""
        stack: list[int] = []
        for change in self.history:
            if change.how == "rollback":
                while stack and stack[-1] != change.version:
                    stack.pop()
                if not stack:
                    stack.append(change.version)
            else:
                stack.append(change.version)
        if self.production is not None and (not stack or stack[-1] != self.production):
            stack.append(self.production)  # a hand-edited file: production wins over the history
        return stack[-2] if len(stack) >= 2 else None

    def summary(self) -> dict[str, Any]:
        """Production and candidate without the history: what ``--json`` shows before and after."""
        candidate: dict[str, Any] | None = None
        if self.candidate is not None:
            candidate = {"version": self.candidate, "mode": self.mode}
            if self.mode == CANARY:
                candidate["percent"] = self.percent
        if candidate is not None and self.plan is not None:
            candidate["rollout"] = {
                "step": self.plan.step + 1,
                "of": len(self.plan.steps),
                "steps": list(self.plan.steps),
                "since": self.plan.since,
                "failures": self.plan.failures,
            }
        return {"production": self.production, "candidate": candidate}

    # --- transitions ---------------------------------------------------------------------

    def noted(self, version: int, action: str, why: str, at: str | None = None) -> RolloutState:
        """The same state with one more line in the audit trail."""
        return replace(self, events=(*self.events, Event(at or now(), version, action, why)))

    def _make_production(self, version: int, how: str, at: str | None, why: str = "") -> RolloutState:
        # Any change of production ends the candidate: it was on trial against the old one.
        at = at or now()
        changed = replace(
            self,
            production=version,
            candidate=None,
            mode=IDLE,
            percent=0,
            plan=None,
            history=(*self.history, Change(version, at, how)),
        )
        return changed.noted(version, how if how != "run" else "promote", why or how, at)

    def after_run(self, version: int, promoted: bool, at: str | None = None, why: str = "") -> RolloutState:
        """A run registered ``version``: production if it won, else the (idle) candidate. A manual
        canary or shadow of an older candidate ends either way; an automatic rollout goes on when
        the new version lost (it is kept registered, by number)."""
        if promoted:
            return self._make_production(version, "run", at, why or "the run passed the gate")
        if self.plan is not None:
            return self.noted(
                version, "run", f"not promoted: {why}; the rollout of version {self.candidate} goes on", at
            )
        return replace(self, candidate=version, mode=IDLE, percent=0).noted(version, "run", f"not promoted: {why}", at)

    # --- automatic rollouts --------------------------------------------------------------

    def _on_step(self, version: int, plan: RolloutPlan) -> RolloutState:
        step = plan.current
        if step == SHADOW:
            return replace(self, candidate=version, mode=SHADOW, percent=0, plan=plan)
        return replace(self, candidate=version, mode=CANARY, percent=int(step), plan=plan)

    def with_rollout(self, version: int, steps: tuple[Step, ...], at: str | None = None, why: str = "") -> RolloutState:
        """``version`` starts the recipe's rollout on its first step (a single step of 100, or no
        production to compare with: it becomes production at once)."""
        at = at or now()
        if self.production is None or steps == (FULL,):
            return self._make_production(version, "run", at, why or "the run passed the gate")
        plan = RolloutPlan(tuple(steps), 0, at)
        replaced = self.candidate if self.plan is not None and self.candidate != version else None
        started = self._on_step(version, plan)
        if replaced is not None:
            why = f"{why}; replaces the rollout of version {replaced}, which stays registered"
        return started.noted(version, "rollout", f"{why}; step 1 of {len(steps)}: {describe(plan.current)}", at)

    def stepped(self, why: str, at: str | None = None) -> RolloutState:
        """The rollout's next step; the last (100%) makes the candidate production."""
        if self.plan is None or self.candidate is None:
            raise UserError(
                f"{self.name}: no rollout is running, so no step to take (automl rollout status model={self.name})."
            )
        at = at or now()
        upcoming = self.plan.next
        if upcoming is None or upcoming == FULL:
            return self._make_production(self.candidate, "rollout", at, f"rollout done: {why}")
        plan = replace(self.plan, step=self.plan.step + 1, since=at, failures=0)
        moved = self._on_step(self.candidate, plan)
        return moved.noted(
            self.candidate, "step", f"step {plan.step + 1} of {len(plan.steps)}: {describe(upcoming)}; {why}", at
        )

    def analysis_failed(self, why: str, failure_limit: int, at: str | None = None) -> RolloutState:
        """One more failed analysis; at ``failure_limit`` the rollout is rolled back at once."""
        if self.plan is None or self.candidate is None:
            return self
        failures = self.plan.failures + 1
        if failures >= failure_limit:
            return self.rollout_stopped("rollback", f"analysis failed {failures} time(s): {why}", at)
        return replace(self, plan=replace(self.plan, failures=failures)).noted(
            self.candidate, "analysis", f"failed ({failures} of {failure_limit}): {why}", at
        )

    def rollout_stopped(self, action: str, why: str, at: str | None = None) -> RolloutState:
        """All traffic back to production; the candidate stays registered, idle, with the reason."""
        if self.candidate is None or self.mode == IDLE:
            raise UserError(f"{self.name}: no rollout, canary or shadow is running, so nothing to {action}.")
        stopped = replace(self, mode=IDLE, percent=0, plan=None)
        return stopped.noted(self.candidate, action, why, at)

    def _check_not_production(self, version: int, what: str) -> None:
        if self.production is None and what != "production":
            raise UserError(
                f"{self.name} has no production version, so nothing to compare a {what} with; "
                f"promote one first: automl models promote model={self.name}:{version}."
            )
        if version == self.production:
            raise UserError(
                f"model={self.name}:{version} is already production; name another version (automl models lists them)."
            )

    def promoted(self, version: int, at: str | None = None, why: str = BY_HAND) -> RolloutState:
        """``version`` takes all traffic; the old production version stays registered."""
        self._check_not_production(version, "production")
        return self._make_production(version, "promote", at, why)

    def with_canary(self, version: int, percent: int, why: str = BY_HAND) -> RolloutState:
        """``version`` answers ``percent`` % of requests; production answers the rest."""
        if not 1 <= percent <= 99:
            raise UserError(
                f"canary={percent}: a canary takes a whole percent of traffic from 1 to 99; "
                f"to send all traffic to it, promote model={self.name}:{version} without canary=."
            )
        self._check_not_production(version, "canary")
        return replace(self, candidate=version, mode=CANARY, percent=percent, plan=None).noted(
            version, "canary", f"{percent}% of traffic, {why}"
        )

    def with_shadow(self, version: int, why: str = BY_HAND) -> RolloutState:
        """``version`` is called and logged on every request; production still answers all."""
        self._check_not_production(version, "shadow")
        return replace(self, candidate=version, mode=SHADOW, percent=0, plan=None).noted(version, "shadow", why)

    def rolled_back(self, at: str | None = None, why: str = BY_HAND) -> RolloutState:
        """Production goes back to the version before; a canary or shadow ends."""
        previous = self.previous_production()
        if self.production is None:
            raise UserError(f"{self.name} has no production version, so nothing to roll back.")
        if previous is None:
            raise UserError(
                f"{self.name}: nothing to roll back to: no production version before {self.production} "
                f"is on record; promote the version you want with automl models promote model={self.name}:VERSION."
            )
        return self._make_production(previous, "rollback", at, why)

    def aborted(self, why: str = BY_HAND) -> RolloutState:
        """The canary, shadow or rollout ends; the version stays the (idle) candidate."""
        if self.mode == IDLE:
            raise UserError(
                f"{self.name}: no canary, shadow or rollout is running, so nothing to abort "
                f"(production {self.production} answers every request)."
            )
        return self.rollout_stopped("abort", why)

    def without(self, version: int) -> RolloutState:
        """The state once ``version`` is deleted (only an idle candidate may be)."""
        if version == self.candidate and self.mode == IDLE:
            return replace(self, candidate=None)
        return self

    # --- the file ------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            **self.summary(),
            "history": [{"version": c.version, "at": c.at, "how": c.how} for c in self.history],
            "rollout": self.plan.to_json() if self.plan else None,
            "events": [e.to_json() for e in self.events],
        }

    @classmethod
    def from_json(cls, name: str, data: dict[str, Any]) -> RolloutState:
        """Raises ValueError, KeyError or TypeError on a damaged file; the store words it."""
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}; this automl reads format {FORMAT}")
        candidate = data.get("candidate") or {}
        return cls(
            name=name,
            production=_version_or_none(data.get("production")),
            candidate=_version_or_none(candidate.get("version")),
            mode=candidate.get("mode", IDLE),
            percent=int(candidate.get("percent", 0)),
            history=tuple(Change(int(c["version"]), c.get("at"), c["how"]) for c in data.get("history", [])),
            plan=RolloutPlan.from_json(data["rollout"]) if data.get("rollout") else None,
            events=tuple(Event.from_json(e) for e in data.get("events", [])),
        )

    @classmethod
    def from_aliases(cls, name: str, aliases: dict[str, int]) -> RolloutState:
        """The state of a workspace written before rollout.json: ``aliases.json`` only. Back then
        only runs made a version production, so the history starts with that run."""
        production = aliases.get(PRODUCTION)
        candidate = aliases.get("candidate")
        return cls(
            name=name,
            production=production,
            candidate=candidate if candidate != production else None,
            history=(Change(production, None, "run"),) if production is not None else (),
        )


def _version_or_none(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"version {value!r}: expected an integer from 1")
    return value


# --- the traffic split ---------------------------------------------------------------------


class RandomSource(Protocol):
    """``random.Random`` or ``numpy.random.Generator``: anything with ``random() -> [0, 1)``."""

    def random(self) -> float: ...


def key_point(name: str, key: str) -> float:
    """Where a client key falls in [0, 1) for this model: sha256, so stable across processes and
    machines (Python's ``hash`` is salted per process). The canary takes the keys below its share,
    so ramping 10% -> 50% keeps every caller that already saw the canary on it."""
    digest = hashlib.sha256(f"{name}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def route(state: RolloutState, key: str | None, rng: RandomSource) -> tuple[int, str]:
    """The version that answers one request and its route name, ``production`` or ``canary``.

    With a client ``key`` the split is stable (one caller always sees one version while the share
    stays); without one, ``rng`` draws. A shadow never answers: call ``state.shadow`` as well."""
    if state.production is None:
        raise UserError(
            f"{state.name} has no production version; promote one: automl models promote model={state.name}:VERSION."
        )
    if state.canary is None:
        return state.production, PRODUCTION
    point = key_point(state.name, key) if key is not None else rng.random()
    if point < state.percent / 100:
        return state.canary, CANARY
    return state.production, PRODUCTION


class Transition(NamedTuple):
    """A model's rollout state before and after one move (a ``Change`` is a line of its history)."""

    before: RolloutState
    after: RolloutState
