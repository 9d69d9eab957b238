"""Automatic rollouts on a real server (LitServe on 127.0.0.1) under load from several clients:
a candidate that agrees with production walks every step to production; a planted bad candidate
(it always answers the majority class) is rolled back at its first conclusive analysis, with no
failed request and every answer logged."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier

import automl
from automl.model.fitted import FittedMember, FittedModel
from automl.registry.store import ModelStore
from automl.serve.api_keys import KeyStore
from automl.serve.client import Client
from automl.serve.local import LocalServer
from automl.store.invokes import query_invokes
from tests.conftest import SHARED_DATA
from tests.helpers import wait_for
from tests.integration.conftest import run_cli

pytestmark = [pytest.mark.slow, pytest.mark.process, pytest.mark.usefixtures("local_ray")]
RECIPE = {
    "search.time_budget_s": None,
    "search.max_trials": 2,
    "search.scheduler": "fifo",
    "search.trainers": ["logistic_regression"],
    "search.mode": "search",
}
ROLLOUT = {"interval_s": 1.0, "min_requests": 40, "step_requests": 60, "failure_limit": 1, "latency_slack_ms": 200.0}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared datasets not found at {SHARED_DATA}")
    shared_data = SHARED_DATA
    ws = tmp_path_factory.mktemp("rollout") / "ws"
    automl.run("penguins", workspace=str(ws), **RECIPE)
    rows = pd.read_csv(shared_data / "penguins" / "penguins.csv").drop(columns=["species"])
    rows = rows.sample(frac=1.0, random_state=0)  # the file is sorted by species
    return ws, rows


@pytest.fixture
def workspace_copy(trained: tuple[Path, pd.DataFrame], tmp_path: Path) -> Path:
    import shutil

    ws = tmp_path / "ws"
    shutil.copytree(trained[0], ws)
    return ws


def register_candidate(ws: Path, model: Any, steps: list[Any]) -> int:
    """``model`` as a new version whose recipe rolls out over ``steps``, started as a run would."""
    store = ModelStore(ws)
    meta = store.meta("penguins", 1)
    recipe = dict(meta.recipe)
    recipe["deploy"] = {**recipe.get("deploy", {}), "rollout": {**ROLLOUT, "steps": steps}}
    version = store.register("penguins", model, dataclasses.replace(meta, lineage={**meta.lineage, "recipe": recipe}))
    store.update_rollout("penguins", lambda s: s.with_rollout(version, tuple(steps), why="test: the gate passed"))
    return version


class Load:
    """Clients sending one row per request until stopped; every answer and error kept."""

    def __init__(self, url: str, key: str, rows: list[dict[str, Any]], clients: int = 4) -> None:
        self.answers: list[Any] = []
        self.errors: list[BaseException] = []
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self.send, args=(Client(url, api_key=key), rows[i::clients]))
            for i in range(clients)
        ]

    def send(self, client: Client, rows: list[dict[str, Any]]) -> None:
        i = 0
        while not self.stop.is_set():
            try:
                self.answers += client.predict("penguins", [rows[i % len(rows)]])
            except BaseException as err:  # noqa: BLE001 - counted: the test asserts there are none
                self.errors.append(err)
            i += 1

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)


def jsonable(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in frame.to_dict("records")]


def served_and_logged(ws: Path, load: Load, server: LocalServer) -> None:
    assert server.stop() == 0
    assert not load.errors, load.errors[:3]
    ids = {a.invoke_id for a in load.answers}
    logged = wait_for(
        lambda: set(query_invokes(ws, "SELECT invoke_id FROM invokes WHERE route <> 'shadow'")["invoke_id"]) or None,
        timeout=60, what="the invokes to be published",
    )  # fmt: skip
    assert ids <= logged and len(ids) == len(load.answers)


def test_a_good_candidate_reaches_production_through_every_step(
    trained: tuple[Path, pd.DataFrame], workspace_copy: Path, tmp_path: Path
) -> None:
    ws, rows = workspace_copy, jsonable(trained[1])
    same = ModelStore(ws).load_model("penguins", 1)
    version = register_candidate(ws, same, ["shadow", 25, 50, 100])
    key = KeyStore(ws).add("penguins", "rollout")[1]
    with LocalServer.start(ws, ["penguins"], tmp_path / "serve.log") as server:
        with Load(server.url, key, rows) as load:
            wait_for(
                lambda: ModelStore(ws).rollout("penguins").production == version or None,
                timeout=120, what="the candidate to reach production",
            )  # fmt: skip
            time.sleep(0.5)  # a moment of traffic on the new production
        served_and_logged(ws, load, server)
    state = ModelStore(ws).rollout("penguins")
    steps = [e.why.split(";")[0] for e in state.events if e.action == "step"]
    assert steps == ["step 2 of 4: 25%", "step 3 of 4: 50%"]
    assert state.events[-1].action == "rollout" and state.events[-1].why.startswith("rollout done")
    assert {a.version for a in load.answers} >= {1, version}
    history = run_cli("models", "history", "model=penguins", f"workspace={ws}")
    assert history.returncode == 0 and "step 3 of 4: 50%" in history.stdout


def test_a_majority_class_candidate_is_rolled_back_at_its_first_analysis(
    trained: tuple[Path, pd.DataFrame], workspace_copy: Path, tmp_path: Path
) -> None:
    ws, rows = workspace_copy, jsonable(trained[1])
    good: FittedModel = ModelStore(ws).load_model("penguins", 1)
    majority = np.array([0] * 6 + [1] * 2 + [2] * 2)  # class 0 (Adelie) at 0.6 for every input
    dummy = DummyClassifier(strategy="prior").fit(np.zeros((len(majority), 1)), majority)
    bad = FittedModel(good.task, good.classes, good.views, [FittedMember(good.members[0].view, dummy, 1.0)], None)
    version = register_candidate(ws, bad, [50, 100])
    key = KeyStore(ws).add("penguins", "rollout")[1]
    with LocalServer.start(ws, ["penguins"], tmp_path / "serve.log") as server:
        status = run_cli("rollout", "status", "model=penguins", f"workspace={ws}")
        assert status.returncode == 0 and "step 1 of 2" in status.stdout
        with Load(server.url, key, rows) as load:
            wait_for(
                lambda: ModelStore(ws).rollout("penguins").plan is None or None,
                timeout=120, what="the rollout to end",
            )  # fmt: skip
        served_and_logged(ws, load, server)
    state = ModelStore(ws).rollout("penguins")
    assert (state.production, state.candidate, state.mode) == (1, version, "idle")
    rollback = state.events[-1]
    assert rollback.action == "rollback" and "agreement" in rollback.why
    assert [e.action for e in state.events if e.version == version] == ["rollout", "rollback"]  # no step, one analysis
    assert {a.version for a in load.answers} == {1, version}
    status = run_cli("rollout", "status", "model=penguins", f"workspace={ws}")
    assert status.returncode == 0 and "production 1; no rollout running" in status.stdout
