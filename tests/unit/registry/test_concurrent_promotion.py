"""Runs finishing at once: each registers a version, compares with the production it reads, and
applies its verdict (``apply_gate``) in its own thread, all released together. The store's lock
is an ``flock`` on a file each call opens anew, so threads of one process contend for it exactly
as separate processes do.

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
from automl.registry.store import CANDIDATE, PRODUCTION, ModelStore
from tests.helpers import gate_by_score

METRICS: dict = {}
register_metrics(register=lambda spec: METRICS.__setitem__(spec.name, spec))
N_RUNS = 8


@pytest.fixture(autouse=True)
def slow_production_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading production's score takes a few milliseconds, as on a busy disk, so that racing runs
    compare with the same old production and then contend for the promotion."""
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


COMPARED: dict[int, int | None] = {}  # version -> the production version its run compared with


def finish_run(workspace: Path, score: float, metric: str) -> Callable[[], tuple[int, str]]:
    """What a run does at its end: register its model, compare, apply the verdict. Each run has
    its own ``ModelStore`` (as separate ``automl run`` commands would)."""

    def job() -> tuple[int, str]:
        store = ModelStore(workspace)
        version = store.register("m", {"score": score}, {"metric": metric, "score": score, "classes": ["a", "b"]})
        alias, compared = gate_by_score(store, "m", version, score, METRICS[metric])
        COMPARED[version] = compared
        return version, alias

    return job


def check_outcome(store: ModelStore, results: list[tuple[int, str]], scores: dict[int, float], metric: str) -> None:
    """Whatever order the runs took the lock in: one production; every promotion compared with the
    production just before it and beat it; no run told "production" is missing from the history."""
    better = METRICS[metric].better
    state = store.rollout("m")
    history = [c.version for c in state.history]
    promoted = [v for v, alias in results if alias == PRODUCTION]
    assert sorted(history) == sorted(promoted)
    assert state.production == history[-1]
    for before, after in zip(history, history[1:], strict=False):
        assert COMPARED.get(after, before) == before  # compared with the production it replaced
        assert better(scores[after], scores[before])
    assert {c.how for c in state.history} == {"run"}
    if state.candidate is not None:
        assert dict(results)[state.candidate] == CANDIDATE
    assert store.aliases("m").get(PRODUCTION) == state.production


@pytest.mark.parametrize(
    ("metric", "scores"),
    [
        ("roc_auc", [0.71, 0.93, 0.80, 0.65, 0.88, 0.90, 0.79, 0.60]),
        ("log_loss", [0.52, 0.31, 0.44, 0.29, 0.61, 0.35, 0.40, 0.33]),
    ],
)
@pytest.mark.parametrize("repeat", range(3))
def test_runs_finishing_at_once_leave_one_production(
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
    and at most one of the others does (each compared with version 1; the first to take the lock
    changes production, so the rest stay candidates)."""
    store = ModelStore(tmp_path)
    first = store.register("m", {}, {"metric": "roc_auc", "score": 0.85, "classes": ["a", "b"]})
    assert gate_by_score(store, "m", first, 0.85, METRICS["roc_auc"]) == (PRODUCTION, None)
    scores = [0.80, 0.95, 0.85, 0.90, 0.84, 0.92, 0.86, 0.81]
    results = run_at_once([finish_run(tmp_path, s, "roc_auc") for s in scores])
    by_version = {first: 0.85, **{v: s for (v, _), s in zip(results, scores, strict=True)}}
    check_outcome(store, [(first, PRODUCTION), *results], by_version, "roc_auc")  # type: ignore[list-item]
    for (_, alias), s in zip(results, scores, strict=True):
        if s <= 0.85:
            assert alias == CANDIDATE  # a tie with production does not promote
    assert store.rollout("m").history[0].version == first
    assert len(store.rollout("m").history) == 2


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
