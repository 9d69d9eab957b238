"""The server's rollout controller on a real model store: a candidate that agrees with production
walks every step to production; one that disagrees, or fails, is rolled back at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from automl.config.schema import RolloutConfig
from automl.registry.store import ModelStore
from automl.serve.analysis import LiveComparison, Pair, analyse
from automl.serve.rollout_controller import RolloutController, read_analysis


class NoReviews:
    def __init__(self, labels: dict[str, str] | None = None) -> None:
        self.labels = labels or {}

    def annotations(self, model: str) -> list:
        return [type("A", (), {"content_id": c, "label": label})() for c, label in self.labels.items()]


def rolling(tmp_path: Path, steps: tuple = ("shadow", 50, 100), **options: object) -> ModelStore:
    settings = {"steps": list(steps), "interval_s": 1.0, "min_requests": 10, "step_requests": 20, **options}
    store = ModelStore(tmp_path)
    for _ in (1, 2):
        store.register("m", {}, {"classes": ["a", "b"], "lineage": {"recipe": {"deploy": {"rollout": settings}}}})
    store.update_rollout("m", lambda s: s.promoted(1))
    store.update_rollout("m", lambda s: s.with_rollout(2, steps, why="the gate passed"))
    return store


def feed(live: LiveComparison, n: int, agree: float = 1.0, at: float = 1.0) -> None:
    for i in range(n):
        same = i < n * agree
        live.pair("m", Pair(at, f"c{i}", "a" if same else "b", "a", 0.9, 0.9 if same else 0.6))
        live.call("m", 1, 200, 10.0)
        live.call("m", 2, 200, 11.0)


def test_an_agreeing_candidate_walks_every_step_to_production(tmp_path: Path) -> None:
    store = rolling(tmp_path)
    live = LiveComparison()
    controller = RolloutController(store, NoReviews(), live, ("m",))
    assert controller.tick("m", now=0.0) is None  # the step is seen: its window starts
    feed(live, 25)
    analysis = controller.tick("m", now=2.0)
    assert analysis is not None and analysis.passed and analysis.compared == 25
    state = store.rollout("m")
    assert (state.canary, state.percent, state.plan.step) == (2, 50, 1)
    assert read_analysis(store, "m")["compared"] == 25
    controller.tick("m", now=3.0)  # the new step is seen
    feed(live, 25, at=3.5)
    controller.tick("m", now=5.0)
    state = store.rollout("m")
    assert (state.production, state.candidate, state.plan) == (2, None, None)
    assert [e.action for e in state.events][-3:] == ["rollout", "step", "rollout"]


def test_a_majority_class_candidate_is_rolled_back_within_one_interval(tmp_path: Path) -> None:
    store = rolling(tmp_path, (10, 100))
    live = LiveComparison()
    controller = RolloutController(store, NoReviews(), live, ("m",))
    controller.tick("m", now=0.0)
    feed(live, 30, agree=0.5)
    analysis = controller.tick("m", now=1.5)
    assert analysis is not None and {c.name for c in analysis.failed} >= {"agreement", "class_balance"}
    state = store.rollout("m")
    assert (state.production, state.candidate, state.mode, state.plan) == (1, 2, "idle", None)
    assert state.events[-1].action == "rollback" and "agreement" in state.events[-1].why
    assert read_analysis(store, "m")["failed"]


def test_too_few_requests_wait_and_a_failing_candidate_rolls_back_even_without_pairs(tmp_path: Path) -> None:
    store = rolling(tmp_path, (10, 100))
    live = LiveComparison()
    controller = RolloutController(store, NoReviews(), live, ("m",))
    controller.tick("m", now=0.0)
    feed(live, 5)
    waited = controller.tick("m", now=1.5)
    assert waited is not None and not waited.passed and not waited.failed
    assert store.rollout("m").plan is not None
    for _ in range(20):
        live.call("m", 2, 500, 5.0)
    controller.tick("m", now=3.0)
    assert store.rollout("m").plan is None and "errors" in store.rollout("m").events[-1].why


def test_failure_limit_counts_failed_analyses(tmp_path: Path) -> None:
    store = rolling(tmp_path, (10, 100), failure_limit=2)
    live = LiveComparison()
    controller = RolloutController(store, NoReviews(), live, ("m",))
    controller.tick("m", now=0.0)
    feed(live, 30, agree=0.3)
    controller.tick("m", now=1.5)
    assert store.rollout("m").plan.failures == 1
    controller.tick("m", now=3.0)
    assert store.rollout("m").plan is None


def test_reviewed_accuracy_is_checked_once_enough_inputs_are_labelled() -> None:
    pairs = [Pair(0.0, f"c{i}", "a", "b" if i % 2 else "a", 0.9, 0.9) for i in range(40)]
    config = RolloutConfig(min_requests=10, min_reviewed=20, min_agreement=0.0, max_class_shift=1.0)
    truth = {f"c{i}": "b" for i in range(40)}  # production is right on half of them, the candidate never
    analysis = analyse("m", 2, 1, pairs, [], truth, config)
    reviewed = next(c for c in analysis.checks if c.name == "reviewed_accuracy")
    assert reviewed.passed is False and reviewed.value == pytest.approx(0.0)
    few = analyse("m", 2, 1, pairs, [], {"c1": "b"}, config)
    assert next(c for c in few.checks if c.name == "reviewed_accuracy").passed is None
