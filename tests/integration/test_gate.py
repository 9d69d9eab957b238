"""The promotion gate on real data (adult income), as the data grows: the candidate and production
are compared on the same examples (production's configuration cross-validated on the new run's
folds), a better configuration is promoted, a worse one refused, and two runs finishing at once
leave one production."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import automl
from automl.registry.store import ModelStore

pytestmark = [pytest.mark.slow, pytest.mark.process, pytest.mark.usefixtures("local_ray")]
QUICK = {"search.time_budget_s": None, "search.max_trials": 1, "search.scheduler": "fifo", "search.mode": "search"}


def grown(shared_data: Path, folder: Path, rows: int) -> Path:
    frame = pd.read_csv(shared_data / "adult_income" / "adult.csv").sample(frac=1.0, random_state=0)
    path = folder / f"adult_{rows}.csv"
    frame.iloc[:rows].to_csv(path, index=False)
    return path


def run(ws: Path, data: Path, trainer: str) -> dict:
    return automl.run("income", workspace=str(ws), **{**QUICK, "data.path": str(data), "search.trainers": [trainer]})


def test_the_gate_compares_on_the_same_examples_as_the_data_grows(tmp_path: Path, shared_data: Path) -> None:
    ws = tmp_path / "ws"
    first = run(ws, grown(shared_data, tmp_path, 3000), "logistic_regression")
    assert first["model"]["alias"] == "production" and first["gate"]["production"] is None

    # Two runs of a better configuration on grown data finish at once: one production.
    data = grown(shared_data, tmp_path, 6000)
    command = [sys.executable, "-m", "automl", "run", "recipe=income", f"workspace={ws}", f"data.path={data}"]
    command += [f"{k}={'null' if v is None else v}" for k, v in QUICK.items()]
    command += ["search.trainers=[lightgbm]", "eval.feature_importance=false", "--json"]
    # Two runs on two cores: OpenMP threads that spin while they wait for a core (LightGBM's)
    # would slow both a hundredfold; passive waiting keeps the race a race.
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    racing = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)
    ]
    outcomes = [p.communicate(timeout=600) for p in racing]
    codes = sorted(p.returncode for p in racing)
    assert codes == [0, 3], [err[-2000:] for _, err in outcomes]
    summaries = [json.loads(out) for out, _ in outcomes]
    winner = next(s for s in summaries if s["model"]["alias"] == "production")
    loser = next(s for s in summaries if s["model"]["alias"] == "candidate")
    gate = winner["gate"]
    assert gate["production"] == 1 and gate["promote"] and not gate["same_configuration"]
    comparison = gate["comparison"]
    assert comparison["examples"] == 6000 and comparison["metric"] == "roc_auc"
    assert comparison["candidate"] > comparison["production"] and comparison["passed"]
    assert comparison["rule"] == "non_inferiority"  # the data grew since production was trained
    assert gate["production_members_reused"] == 0  # logistic regression was cross-validated again here
    reason = loser["model"]["reason"]
    assert "while this run compared with" in reason or "same configuration and data" in reason
    state = ModelStore(ws).rollout("income")
    assert state.production == winner["model"]["version"]
    assert [c.version for c in state.history] == [1, winner["model"]["version"]]

    # A worse configuration on data grown again is refused, compared on the new examples.
    worse = run(ws, grown(shared_data, tmp_path, 8000), "logistic_regression")
    assert worse["model"]["alias"] == "candidate"
    comparison = worse["gate"]["comparison"]
    assert worse["gate"]["production"] == winner["model"]["version"] and comparison["examples"] == 8000
    assert comparison["candidate"] < comparison["production"] and not worse["gate"]["promote"]
    assert comparison["share_not_worse"] < 0.9
    assert "on the same 8000 examples" in worse["model"]["reason"]
    assert ModelStore(ws).rollout("income").production == winner["model"]["version"]
