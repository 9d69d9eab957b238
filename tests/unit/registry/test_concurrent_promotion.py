"""Runs finishing at once: each registers a version and calls ``promote_if_better`` in its own
thread, all released together. The store's lock is an ``flock`` on a file each call opens anew,
so threads of one process contend for it exactly as separate processes do.

``test_registry.py`` covers one forced interleaving (a promotion landing while another waits for
the lock); these run many real ones, in both metric directions, with ties and a change of metric.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from automl.builtin.metrics import register_metrics
from automl.registry.promote import promote_if_better
from automl.registry.store import CANDIDATE, PRODUCTION, ModelStore

METRICS: dict = {}
register_metrics(register=lambda spec: METRICS.__setitem__(spec.name, spec))
N_RUNS = 8


@pytest.fixture(autouse=True)
def slow_production_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading production's score (inside the gate, under the lock) takes a few milliseconds, as on
    a busy disk: without the lock, every racing run would read the same old production."""
    meta = ModelStore.meta

    def slow_meta(self: ModelStore, name: str, version: int) -> Any:
        time.sleep(0.005)
        return meta(self, name, version)

    monkeypatch.setattr(ModelStore, "meta", slow_meta)


def run_at_once(jobs: list[Callable[[], object]]) -> list[object]:
    """Run ``jobs`` in threads released by one barrier; re-raise the first error."""
    barrier = threading.Barrier(len(jobs))
    results: list[object] = [None] * len(jobs)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = jobs[i]()
        except BaseException as err:  # noqa: BLE001 - reported below, in the test's thread
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads), "a promotion never returned (a lock held forever?)"
    if errors:
        raise errors[0]
    return results


def finish_run(workspace: Path, score: float, metric: str) -> Callable[[], tuple[int, str]]:
    """What a run does at its end: register its model, then pass the gate. Each run has its own
    ``ModelStore`` (as separate ``automl run`` commands would)."""

    def job() -> tuple[int, str]:
        store = ModelStore(workspace)
        version = store.register("m", {"score": score}, {"metric": metric, "score": score, "classes": ["a", "b"]})
        return version, promote_if_better(store, "m", version, score, METRICS[metric])

    return job


def check_outcome(store: ModelStore, results: list[tuple[int, str]], scores: dict[int, float], metric: str) -> None:
    """Whatever order the runs took the lock in, the outcome is the one of some serial order."""
    better = METRICS[metric].better
    state = store.rollout("m")
    best = min(scores, key=scores.get) if not METRICS[metric].greater_is_better else max(scores, key=scores.get)
    # production is the best score, and the run that registered it was told so
    assert state.production == best
    assert dict(results)[best] == PRODUCTION
    # every run told "production" is in the history once, in the order they won, each strictly
    # better than the one before: no promotion was lost and none was made against a stale production
    history = [c.version for c in state.history]
    promoted = {v for v, alias in results if alias == PRODUCTION}
    assert sorted(history) == sorted(promoted)
    assert all(better(scores[b], scores[a]) for a, b in zip(history, history[1:], strict=False))
    assert {c.how for c in state.history} == {"run"}
    # every run told "candidate" did not beat the production of its time: not better than the best
    for version, alias in results:
        if alias == CANDIDATE:
            assert not better(scores[version], scores[best])
    # the candidate, if any, is a version that was told "candidate"
    if state.candidate is not None:
        assert dict(results)[state.candidate] == CANDIDATE
    # the aliases mirror agrees with the rollout state
    assert store.aliases("m").get(PRODUCTION) == best


@pytest.mark.parametrize(
    ("metric", "scores"),
    [
        ("roc_auc", [0.71, 0.93, 0.80, 0.65, 0.88, 0.90, 0.79, 0.60]),
        ("log_loss", [0.52, 0.31, 0.44, 0.29, 0.61, 0.35, 0.40, 0.33]),
    ],
)
@pytest.mark.parametrize("repeat", range(3))
def test_runs_finishing_at_once_leave_the_best_as_the_only_production(
    tmp_path: Path, metric: str, scores: list[float], repeat: int
) -> None:
    assert len(scores) == N_RUNS
    results = run_at_once([finish_run(tmp_path, s, metric) for s in scores])
    store = ModelStore(tmp_path)
    versions = [v for v, _ in results]
    assert sorted(versions) == list(range(1, N_RUNS + 1))  # each run got its own version number
    by_version = {v: s for (v, _), s in zip(results, scores, strict=True)}
    check_outcome(store, results, by_version, metric)  # type: ignore[arg-type]


def test_runs_against_an_existing_production_all_compare_with_the_latest(tmp_path: Path) -> None:
    """A production of 0.85 exists; runs at 0.80..0.95 race: those at or below 0.85 can never win,
    and the final production is 0.95 whatever the order."""
    store = ModelStore(tmp_path)
    first = store.register("m", {}, {"metric": "roc_auc", "score": 0.85, "classes": ["a", "b"]})
    assert promote_if_better(store, "m", first, 0.85, METRICS["roc_auc"]) == PRODUCTION
    scores = [0.80, 0.95, 0.85, 0.90, 0.84, 0.92, 0.86, 0.81]
    results = run_at_once([finish_run(tmp_path, s, "roc_auc") for s in scores])
    by_version = {first: 0.85, **{v: s for (v, _), s in zip(results, scores, strict=True)}}
    check_outcome(store, [(first, PRODUCTION), *results], by_version, "roc_auc")  # type: ignore[list-item]
    for (_, alias), s in zip(results, scores, strict=True):
        if s <= 0.85:
            assert alias == CANDIDATE  # a tie with production does not promote
    assert store.rollout("m").history[0].version == first


def test_equal_scores_racing_promote_exactly_one(tmp_path: Path) -> None:
    """Eight runs with the same score: the first to take the lock wins, the seven others tie with
    it and stay candidates."""
    results = run_at_once([finish_run(tmp_path, 0.9, "roc_auc") for _ in range(N_RUNS)])
    winners = [v for v, alias in results if alias == PRODUCTION]
    assert len(winners) == 1
    state = ModelStore(tmp_path).rollout("m")
    assert state.production == winners[0]
    assert [c.version for c in state.history] == winners
    assert state.candidate in {v for v, alias in results if alias == CANDIDATE}


def test_a_production_ranked_by_another_metric_is_replaced(tmp_path: Path) -> None:
    """A production scored by roc_auc says nothing about a log_loss score: the new version wins
    even with a "worse-looking" number (the gate compares like with like only)."""
    store = ModelStore(tmp_path)
    old = store.register("m", {}, {"metric": "roc_auc", "score": 0.99, "classes": ["a", "b"]})
    promote_if_better(store, "m", old, 0.99, METRICS["roc_auc"])
    new = store.register("m", {}, {"metric": "log_loss", "score": 5.0, "classes": ["a", "b"]})
    assert promote_if_better(store, "m", new, 5.0, METRICS["log_loss"]) == PRODUCTION
    worse = store.register("m", {}, {"metric": "log_loss", "score": 6.0, "classes": ["a", "b"]})
    assert promote_if_better(store, "m", worse, 6.0, METRICS["log_loss"]) == CANDIDATE
    state = store.rollout("m")
    assert (state.production, state.candidate) == (new, worse)
    assert [c.version for c in state.history] == [old, new]


def test_a_later_win_ends_the_candidate_and_a_later_loss_becomes_it(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)

    def finish(score: float) -> tuple[int, str]:
        return finish_run(tmp_path, score, "roc_auc")()

    assert finish(0.8) == (1, PRODUCTION)
    assert finish(0.7) == (2, CANDIDATE)
    assert store.rollout("m").candidate == 2
    assert finish(0.9) == (3, PRODUCTION)
    assert store.rollout("m").candidate is None  # the old candidate had nothing left to be a candidate for
    assert finish(0.85) == (4, CANDIDATE)
    assert finish(0.86) == (5, CANDIDATE)  # the newest loser is the candidate
    state = store.rollout("m")
    assert (state.production, state.candidate) == (3, 5)
