"""``automl rollout status | step | abort`` and ``automl models history`` through the CLI, on a
model store with an automatic rollout in progress (no server: a person steers it)."""

import json
from pathlib import Path

import pytest

from automl.cli import main
from automl.registry.store import ModelStore
from tests.unit.cli.test_model_promotion import cli, dogs  # noqa: F401 - the fixture


@pytest.fixture
def rolling(dogs: ModelStore) -> ModelStore:  # noqa: F811
    dogs.update_rollout("dog_classifier", lambda s: s.with_rollout(3, ("shadow", 20, 100), why="gate passed"))
    return dogs


def test_status_step_and_history_of_a_rollout(rolling: ModelStore, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "rollout", "status", "model=dog_classifier")
    assert code == 0 and "version 3 rolling out over production 1" in out
    assert "step 1 of 3: [shadow] -> 20% -> 100%" in out and "no analysis yet" in out
    assert cli(capsys, "rollout", "step", "model=dog_classifier", "why=looks fine")[:2] == (
        0,
        "dog_classifier: step of version 3: step 2 of 3: 20%; by hand: looks fine",
    )
    assert rolling.rollout("dog_classifier").canary == 3
    code, out, _ = cli(capsys, "rollout", "step", "model=dog_classifier", "--json")
    assert code == 0 and json.loads(out)["after"] == {"production": 3, "candidate": None}
    code, out, _ = cli(capsys, "models", "history", "model=dog_classifier", "--json")
    actions = [(e["version"], e["action"]) for e in json.loads(out)["events"]]
    assert actions == [(1, "promote"), (3, "run"), (3, "rollout"), (3, "step"), (3, "rollout")]
    code, out, _ = cli(capsys, "models", "history", "model=dog_classifier")
    assert out.splitlines()[-1].split()[1:3] == ["v3", "rollout"] and "rollout done: by hand" in out


def test_abort_sends_all_traffic_back_and_keeps_the_candidate(
    rolling: ModelStore, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "rollout", "abort", "model=dog_classifier", "why=too slow")
    assert code == 0 and out == "dog_classifier: abort of version 3: by hand: too slow"
    state = rolling.rollout("dog_classifier")
    assert (state.production, state.candidate, state.mode, state.plan) == (1, 3, "idle", None)
    code, _, err = cli(capsys, "rollout", "abort", "model=dog_classifier")
    assert code == 2 and "no rollout, canary or shadow is running" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["rollout", "pause", "model=dog_classifier"], "unknown action; use status, step, abort"),
        (["rollout", "status", "model=dog_classifier:3"], "takes the model's name"),
        (["rollout", "status"], "model="),
        (["models", "history", "model=cats"], "cats"),
    ],
)
def test_bad_input_is_a_one_line_error(
    rolling: ModelStore, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = cli(capsys, *args)
    assert code == 2 and out == "" and message in err and "\n" not in err


def test_a_state_saved_before_the_audit_trail_shows_its_history(workspace: Path, capsys) -> None:
    store = ModelStore(workspace)
    store.register("m", {}, {"classes": ["a", "b"]})
    models = workspace / "models" / "m"
    (models / "rollout.json").write_text(
        json.dumps(
            {"format": 1, "production": 1, "candidate": None, "history": [{"version": 1, "at": None, "how": "run"}]}
        )
    )
    assert main(["models", "history", "model=m"]) == 0
    assert "v1     run       before the audit trail" in capsys.readouterr().out
