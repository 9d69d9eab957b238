"""``RolloutController``: the server walks an automatic rollout through its steps by itself.

Every ``deploy.rollout.interval_s`` (from the candidate's own recipe) it analyses the live
comparison since the step began (``automl.serve.analysis``), writes the analysis beside the
rollout state (``models/NAME/analysis.json``, what ``automl rollout status`` shows), and then:
a failed analysis counts toward ``failure_limit`` and at the limit rolls back at once (all traffic
to production, the candidate kept with the reason); a passing one ends the step once it compared
``step_requests`` requests and held ``step_s`` seconds. Each move is one ``update_rollout`` that
first checks the state is still the step it analysed (a person may have acted meanwhile).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

from automl.clock import utc_now
from automl.config.schema import RolloutConfig
from automl.durable import write_text
from automl.registry.rollout import RolloutState, describe
from automl.serve.analysis import Analysis, LiveComparison, analyse

log = logging.getLogger("automl.serve")
ANALYSIS_FILE = "analysis.json"
TICK_S = 0.2


def rollout_config(recipe: Any) -> RolloutConfig:
    """The ``deploy.rollout`` section of a version's recipe (as its bundle keeps it)."""
    values = ((recipe or {}).get("deploy") or {}).get("rollout") or {}
    known = {f.name for f in dataclasses.fields(RolloutConfig)}
    return RolloutConfig(**{k: v for k, v in values.items() if k in known})


def analysis_path(store: Any, name: str) -> Path:
    return Path(store.root) / name / ANALYSIS_FILE


def read_analysis(store: Any, name: str) -> dict[str, Any] | None:
    """The last analysis the server wrote for ``name``, if any."""
    path = analysis_path(store, name)
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    except (OSError, ValueError):
        return None


class RolloutController:
    """One per server process, beside the request pipeline that feeds ``live``."""

    def __init__(self, store: Any, reviews: Any, live: LiveComparison, models: tuple[str, ...]) -> None:
        self.store = store
        self.reviews = reviews
        self.live = live
        self.models = models
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._step_seen: dict[str, tuple[tuple[int, int, str], float]] = {}
        self._last: dict[str, float] = {}
        self._errors: dict[str, str] = {}  # the last error logged per model: logged once, not every tick
        self._configs: dict[tuple[str, int], RolloutConfig] = {}  # a candidate's deploy.rollout, read once

    def start(self) -> RolloutController:
        self._thread = threading.Thread(target=self._run, name="automl-rollout", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(TICK_S):
            for name in self.models:
                try:
                    self.tick(name)
                    self._errors.pop(name, None)
                except Exception as err:  # noqa: BLE001 - the next tick tries again; serving goes on
                    said = f"{type(err).__name__}: {err}"
                    if self._errors.get(name) != said:
                        log.exception("rollout analysis of %s failed", name)
                        self._errors[name] = said

    def tick(self, name: str, now: float | None = None) -> Analysis | None:
        """Analyse ``name``'s rollout if its interval has passed, and act on the analysis."""
        now = time.monotonic() if now is None else now
        state: RolloutState = self.store.rollout(name)
        if state.plan is None or state.candidate is None or state.production is None:
            self._step_seen.pop(name, None)
            return None
        step = (state.candidate, state.plan.step, state.plan.since)
        seen = self._step_seen.get(name)
        if seen is None or seen[0] != step:
            self._step_seen[name] = (step, now)
            self._last[name] = now
            return None
        config = self._config(name, state.candidate)
        if now - self._last.get(name, 0.0) < config.interval_s:
            return None
        self._last[name] = now
        started = seen[1]
        pairs, calls = self.live.since(name, started)
        reviewed = self._reviewed(name) if pairs else {}
        analysis = analyse(name, state.candidate, state.production, pairs, calls, reviewed, config)
        analysis = dataclasses.replace(analysis, at=utc_now())
        write_text(analysis_path(self.store, name), json.dumps(analysis.to_json(), indent=2))
        self._act(name, step, analysis, config, now - started)
        return analysis

    def _config(self, name: str, version: int) -> RolloutConfig:
        """The version's ``deploy.rollout`` (a registered version's bundle never changes)."""
        key = (name, version)
        if key not in self._configs:
            self._configs[key] = rollout_config(self.store.meta(name, version).recipe)
        return self._configs[key]

    def _reviewed(self, name: str) -> dict[str, str]:
        try:
            return {a.content_id: a.label for a in self.reviews.annotations(name)}
        except Exception:  # noqa: BLE001 - a busy review database: reviewed accuracy waits
            return {}

    def _act(
        self, name: str, step: tuple[int, int, str], analysis: Analysis, config: RolloutConfig, held: float
    ) -> None:
        def same(state: RolloutState) -> bool:
            plan = state.plan
            return plan is not None and (state.candidate, plan.step, plan.since) == step

        failed = analysis.failed
        if failed:
            why = "; ".join(f"{c.name}: {c.detail}" for c in failed)
            change = self.store.update_rollout(
                name, lambda s: s.analysis_failed(why, config.failure_limit) if same(s) else s
            )
            if change.after.plan is None:
                log.warning("%s: rollout of version %s rolled back: %s", name, step[0], why)
            return
        if analysis.passed and analysis.compared >= config.step_requests and held >= config.step_s:
            why = f"analysis passed on {analysis.compared} compared requests"
            change = self.store.update_rollout(name, lambda s: s.stepped(why) if same(s) else s)
            after = change.after
            where = "production" if after.production == step[0] else describe(after.plan.current) if after.plan else "-"
            log.warning("%s: version %s moves on to %s", name, step[0], where)
