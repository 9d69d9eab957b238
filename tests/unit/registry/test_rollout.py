import dataclasses
import json
import math
import random
from pathlib import Path

import numpy as np
import pytest

from automl.builtin.metrics import register_metrics
from automl.errors import UserError
from automl.registry import promote as promotion
from automl.registry.rollout import Change, RolloutState, key_point, route
from automl.registry.store import ModelStore
from tests.helpers import gate_by_score

METRICS: dict = {}
register_metrics(register=lambda spec: METRICS.__setitem__(spec.name, spec))


def run(store: ModelStore, score: float) -> tuple[int, str]:
    """What `automl run` does to the registry: register a version, then the promotion gate."""
    version = store.register("m", {"weights": score}, {"metric": "roc_auc", "score": score, "classes": ["a", "b"]})
    return version, gate_by_score(store, "m", version, score, METRICS["roc_auc"])[0]


def production_history(state: RolloutState) -> list[tuple[int, str]]:
    return [(c.version, c.how) for c in state.history]


# --- transitions ---------------------------------------------------------------------------


def test_canary_shadow_and_full_promotion() -> None:
    state = RolloutState("m").after_run(1, promoted=True).after_run(2, promoted=False)
    assert (state.production, state.candidate, state.mode) == (1, 2, "idle")

    canary = state.with_canary(2, 10)
    assert (canary.production, canary.canary, canary.percent, canary.shadow) == (1, 2, 10, None)
    assert canary.traffic(1) == 90 and canary.traffic(2) == 10
    assert canary.route_of(1) == "production" and canary.route_of(2) == "canary" and canary.route_of(3) is None

    shadow = canary.with_shadow(2)
    assert (shadow.shadow, shadow.canary, shadow.percent) == (2, None, 0)
    assert shadow.traffic(1) == 100 and shadow.traffic(2) == 0 and shadow.route_of(2) == "shadow"

    full = shadow.promoted(2)
    assert (full.production, full.candidate, full.mode, full.percent) == (2, None, "idle", 0)
    assert production_history(full) == [(1, "run"), (2, "promote")]


def test_bad_moves_are_user_errors_that_say_what_to_do() -> None:
    state = RolloutState("m").after_run(1, promoted=True)
    with pytest.raises(UserError, match="model=m:1 is already production; name another version"):
        state.promoted(1)
    with pytest.raises(UserError, match="already production"):
        state.with_canary(1, 10)
    with pytest.raises(UserError, match="already production"):
        state.with_shadow(1)
    for percent in (0, 100, -5, 150):
        with pytest.raises(UserError, match=f"canary={percent}: .* from 1 to 99; .*promote model=m:2 without canary="):
            state.with_canary(2, percent)
    with pytest.raises(UserError, match="no canary, shadow or rollout is running"):
        state.aborted()
    with pytest.raises(UserError, match="nothing to roll back to"):
        state.rolled_back()
    with pytest.raises(UserError, match="no production version"):
        RolloutState("m").with_canary(1, 10)
    with pytest.raises(UserError, match="no production version"):
        RolloutState("m").rolled_back()


@pytest.mark.parametrize(
    "fields",
    [
        {"production": 1, "candidate": 1},
        {"production": 1, "candidate": 2, "mode": "canary", "percent": 0},
        {"production": 1, "candidate": 2, "mode": "canary", "percent": 100},
        {"production": 1, "candidate": 2, "mode": "shadow", "percent": 10},
        {"production": 1, "mode": "shadow"},
        {"candidate": 2, "mode": "canary", "percent": 10},
        {"production": 1, "candidate": 2, "mode": "blue-green"},
    ],
)
def test_impossible_states_cannot_be_built(fields: dict) -> None:
    with pytest.raises(ValueError):
        RolloutState("m", **fields)


def test_rollback_walks_back_over_earlier_rollbacks() -> None:
    state = RolloutState("m").after_run(1, promoted=True).after_run(3, promoted=True).promoted(7)
    state = state.with_canary(8, 20)
    state = state.rolled_back()
    assert (state.production, state.candidate, state.mode) == (3, None, "idle")  # and the canary ended
    state = state.rolled_back()
    assert state.production == 1  # not back to 7
    with pytest.raises(UserError, match="no production version before 1"):
        state.rolled_back()
    assert production_history(state) == [(1, "run"), (3, "run"), (7, "promote"), (3, "rollback"), (1, "rollback")]
    # Promoting an older version again: rolling back returns to the one it replaced.
    again = RolloutState("m").after_run(1, promoted=True).promoted(3).promoted(1)
    assert again.rolled_back().production == 3
    assert again.rolled_back().rolled_back().production == 1


def test_runs_end_a_canary() -> None:
    canary = RolloutState("m").after_run(1, promoted=True).with_canary(2, 10)
    lost = canary.after_run(3, promoted=False)
    assert (lost.production, lost.candidate, lost.mode, lost.percent) == (1, 3, "idle", 0)
    won = canary.after_run(3, promoted=True)
    assert (won.production, won.candidate) == (3, None)
    assert production_history(won) == [(1, "run"), (3, "run")]


def test_aborting_keeps_the_idle_candidate() -> None:
    shadow = RolloutState("m").after_run(1, promoted=True).with_shadow(2)
    assert dataclasses.replace(shadow.aborted(), events=()) == RolloutState("m", 1, 2, history=shadow.history)
    assert shadow.aborted().events[-1].action == "abort"
    assert shadow.aborted().without(2).candidate is None
    assert shadow.without(2) == shadow  # a shadow is never deleted from under the server


# --- persistence and backwards compatibility -------------------------------------------------


def test_the_state_is_saved_in_rollout_json_and_mirrored_in_aliases_json(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    run(store, 0.80)
    run(store, 0.79)
    before, after = promotion.promote(store, "m", 2, canary=10)
    assert before.summary() == {"production": 1, "candidate": {"version": 2, "mode": "idle"}}
    assert after.summary() == {"production": 1, "candidate": {"version": 2, "mode": "canary", "percent": 10}}

    folder = tmp_path / "models" / "m"
    saved = json.loads((folder / "rollout.json").read_text())
    assert saved["format"] == 1
    assert saved["production"] == 1
    assert saved["candidate"] == {"version": 2, "mode": "canary", "percent": 10}
    assert [(c["version"], c["how"]) for c in saved["history"]] == [(1, "run")]
    assert saved["history"][0]["at"].endswith("+00:00")
    assert json.loads((folder / "aliases.json").read_text()) == {"production": 1, "candidate": 2}
    assert not list(folder.glob("*.tmp")) and not list(folder.glob(".*.tmp"))

    reread = ModelStore(tmp_path).rollout("m")
    assert reread == after
    assert store.resolve("m@candidate") == ("m", 2) and store.resolve("m") == ("m", 1)

    promotion.promote(store, "m", 2)
    assert json.loads((folder / "aliases.json").read_text()) == {"production": 2}
    assert [(c["version"], c["how"]) for c in json.loads((folder / "rollout.json").read_text())["history"]] == [
        (1, "run"),
        (2, "promote"),
    ]


def test_a_workspace_with_only_aliases_json_still_reads_and_upgrades(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    for score in (0.8, 0.7, 0.75):
        store.register("m", {"weights": score}, {"metric": "roc_auc", "score": score, "classes": ["a", "b"]})
    folder = tmp_path / "models" / "m"
    # Exactly what the registry wrote before rollout.json existed, plus a hand-made alias.
    (folder / "aliases.json").write_text(json.dumps({"candidate": 2, "production": 1, "stable": 3}))

    state = store.rollout("m")
    assert (state.production, state.candidate, state.mode) == (1, 2, "idle")
    assert production_history(state) == [(1, "run")]
    assert store.aliases("m") == {"production": 1, "candidate": 2, "stable": 3}
    assert store.resolve("m@candidate") == ("m", 2)
    assert store.resolve("m@stable") == ("m", 3)
    assert store.resolve("m") == ("m", 1)
    with pytest.raises(UserError, match="nothing to roll back to"):
        promotion.rollback(store, "m")

    promotion.promote(store, "m", 3)
    assert (folder / "rollout.json").exists()
    assert json.loads((folder / "aliases.json").read_text()) == {"production": 3, "stable": 3}
    _, back = promotion.rollback(store, "m")
    assert back.production == 1
    assert production_history(back) == [(1, "run"), (3, "promote"), (1, "rollback")]


def test_a_damaged_rollout_json_is_a_one_line_error_with_the_way_out(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    run(store, 0.8)
    run(store, 0.9)
    path = tmp_path / "models" / "m" / "rollout.json"
    for damage in ("{not json", json.dumps({"format": 99}), json.dumps({"format": 1, "production": "two"})):
        path.write_text(damage)
        with pytest.raises(UserError, match="rollout.json is damaged .*delete it to fall back to aliases.json"):
            store.rollout("m")
    path.unlink()
    assert store.rollout("m").production == 2  # from the mirror


def test_production_and_candidate_are_set_through_the_rollout_state_only(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    run(store, 0.8)
    with pytest.raises(ValueError, match="rollout state"):
        store.set_alias("m", "production", 1)
    store.set_alias("m", "stable", 1)
    assert store.aliases("m") == {"production": 1, "stable": 1}
    store.set_alias("m", "stable", None)
    assert store.aliases("m") == {"production": 1}


def test_delete_refuses_production_canary_and_shadow(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    run(store, 0.8)
    run(store, 0.7)
    run(store, 0.6)
    with pytest.raises(UserError, match="model=m:1 is production; promote another version before deleting it"):
        store.delete("m", 1)
    promotion.promote(store, "m", 3, canary=25)
    with pytest.raises(UserError, match=r"model=m:3 answers 25% of traffic as a canary; .*automl models abort model=m"):
        store.delete("m", 3)
    promotion.promote(store, "m", 3, shadow=True)
    with pytest.raises(UserError, match="model=m:3 runs in shadow; .*automl models abort model=m"):
        store.delete("m", 3)
    store.delete("m", 2)  # neither production nor candidate
    promotion.abort(store, "m")
    store.delete("m", 3)  # the idle candidate: its alias goes with it
    assert store.versions("m") == [1]
    assert store.aliases("m") == {"production": 1}
    assert store.rollout("m").candidate is None


def test_rollback_to_a_deleted_version_says_what_to_do(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    run(store, 0.7)
    run(store, 0.8)
    promotion.promote(store, "m", 1)  # history 1, 2, 1: rollback goes to 2
    store.delete("m", 2)
    with pytest.raises(UserError, match="was 2, which has been deleted; promote the version you want"):
        promotion.rollback(store, "m")
    assert store.rollout("m").production == 1  # nothing was written


# --- the traffic split -----------------------------------------------------------------------


def canary_state(percent: int) -> RolloutState:
    return RolloutState("dog_classifier", production=6, candidate=7, mode="canary", percent=percent)


def test_without_a_canary_production_answers_everything() -> None:
    rng = random.Random(0)
    plain = RolloutState("m", production=6, candidate=7)  # an idle candidate takes no traffic
    shadow = RolloutState("m", production=6, candidate=7, mode="shadow")
    for state in (plain, shadow):
        assert {route(state, key, rng) for key in ("a", "b", None, None)} == {(6, "production")}
    assert shadow.shadow == 7 and plain.shadow is None
    with pytest.raises(UserError, match="no production version"):
        route(RolloutState("m"), "a", rng)


def within_binomial_bound(hits: int, n: int, p: float, sigmas: float = 4.5) -> bool:
    return abs(hits - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


def test_keys_split_at_the_share_and_each_key_keeps_its_version() -> None:
    state, rng = canary_state(10), random.Random(0)
    keys = [f"client-{i}" for i in range(20_000)]
    first = [route(state, key, rng) for key in keys]
    hits = sum(r == (7, "canary") for r in first)
    assert within_binomial_bound(hits, len(keys), 0.10), hits
    assert {r for r in first} == {(7, "canary"), (6, "production")}
    # The same key always sees the same version, whatever the random source says.
    assert [route(state, key, random.Random(99)) for key in keys] == first
    # The point is sha256, not Python's salted hash: pinned, so it is the same in every process.
    assert key_point("dog_classifier", "client-0") == pytest.approx(0.245197, abs=1e-6)
    # Ramping up keeps every caller that already saw the canary on it.
    ramped = canary_state(50)
    assert all(route(ramped, key, rng)[0] == 7 for key, r in zip(keys, first, strict=True) if r[0] == 7)
    ramped_hits = sum(route(ramped, key, rng)[0] == 7 for key in keys)
    assert within_binomial_bound(ramped_hits, len(keys), 0.50), ramped_hits


@pytest.mark.parametrize("rng", [random.Random(0), np.random.default_rng(0)], ids=["random", "numpy"])
def test_requests_without_a_key_are_drawn_at_the_share(rng: random.Random) -> None:
    state = canary_state(10)
    hits = sum(route(state, None, rng) == (7, "canary") for _ in range(20_000))
    assert within_binomial_bound(hits, 20_000, 0.10), hits


def test_history_entries_say_how() -> None:
    with pytest.raises(ValueError, match="how='magic'"):
        Change(1, None, "magic")


# --- automatic rollouts ----------------------------------------------------------------------


def test_a_rollout_walks_its_steps_to_production_with_an_audit_trail() -> None:
    state = RolloutState("m").after_run(1, promoted=True).with_rollout(2, ("shadow", 5, 50, 100), why="gate passed")
    assert (state.production, state.shadow, state.plan.step) == (1, 2, 0)
    state = state.stepped("analysis passed")
    assert (state.canary, state.percent, state.plan.step, state.plan.current) == (2, 5, 1, 5)
    state = state.stepped("analysis passed").stepped("analysis passed")
    assert (state.production, state.candidate, state.plan) == (2, None, None)
    assert production_history(state) == [(1, "run"), (2, "rollout")]
    actions = [(e.version, e.action) for e in state.events]
    assert actions == [(1, "promote"), (2, "rollout"), (2, "step"), (2, "step"), (2, "rollout")]
    assert "step 3 of 4: 50%" in state.events[3].why
    assert RolloutState.from_json("m", json.loads(json.dumps(state.to_json()))) == state


def test_a_failed_analysis_at_the_limit_rolls_back_and_keeps_the_candidate() -> None:
    state = RolloutState("m").after_run(1, promoted=True).with_rollout(2, (10, 100))
    once = state.analysis_failed("agreement: 40%", failure_limit=2)
    assert (once.canary, once.plan.failures, once.events[-1].action) == (2, 1, "analysis")
    twice = once.analysis_failed("agreement: 35%", failure_limit=2)
    assert (twice.production, twice.candidate, twice.mode, twice.plan) == (1, 2, "idle", None)
    assert twice.events[-1].action == "rollback" and "agreement: 35%" in twice.events[-1].why
    assert RolloutState.from_json("m", json.loads(json.dumps(once.to_json()))) == once


def test_a_losing_run_leaves_a_rollout_going_and_no_production_means_at_once() -> None:
    rolling = RolloutState("m").after_run(1, promoted=True).with_rollout(2, ("shadow", 100))
    lost = rolling.after_run(3, promoted=False, why="worse")
    assert (lost.candidate, lost.shadow, lost.plan) == (2, 2, rolling.plan)
    assert "rollout of version 2 goes on" in lost.events[-1].why
    first = RolloutState("m").with_rollout(1, ("shadow", 100))
    assert (first.production, first.plan) == (1, None)
    with pytest.raises(UserError, match="no rollout is running"):
        first.stepped("by hand")
