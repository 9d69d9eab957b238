"""``automl models promote | rollback | abort`` and the rollout in ``automl models``, through the CLI."""

import json
from pathlib import Path

import pytest

from automl.cli import main
from automl.registry.store import ModelStore


@pytest.fixture
def dogs(workspace: Path) -> ModelStore:
    """dog_classifier with versions 1..3: 1 production (from a run), 3 the idle candidate."""
    store = ModelStore(workspace)
    for score in (0.80, 0.70, 0.75):
        meta = {"metric": "accuracy", "score": score, "classes": ["a", "b"], "best": {"trainer": "mlp_head"}}
        store.register("dog_classifier", {"weights": score}, meta)
    store.update_rollout("dog_classifier", lambda s: s.after_run(1, promoted=True).after_run(3, promoted=False))
    return store


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out.strip(), err.strip()


def listed(capsys: pytest.CaptureFixture[str]) -> dict[int, tuple[list[str], str | None, int]]:
    code, out, _ = cli(capsys, "models", "model=dog_classifier", "--json")
    assert code == 0
    return {r["version"]: (r["aliases"], r["route"], r["traffic"]) for r in json.loads(out)}


def test_canary_ramp_shadow_promote_rollback_and_abort(dogs: ModelStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "models", "promote", "model=dog_classifier:2", "canary=10") == (
        0,
        "dog_classifier: version 2 gets 10% of traffic (canary); production stays 1",
        "",
    )
    assert listed(capsys) == {1: (["production"], "production", 90), 2: (["candidate"], "canary", 10), 3: ([], None, 0)}
    code, out, _ = cli(capsys, "models", "model=dog_classifier")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "MODEL",
        "VERSION",
        "ALIASES",
        "METRIC",
        "SCORE",
        "BEST",
        "CREATED",
        "RUNTIME",
        "TRAFFIC",
    ]
    assert [line.split()[-2:] for line in lines[1:]] == [["native", "90%"], ["native", "10%"], ["native", "-"]]

    code, out, _ = cli(capsys, "models", "promote", "model=dog_classifier:2", "canary=50", "--json")
    assert code == 0
    assert json.loads(out) == {
        "name": "dog_classifier",
        "action": "canary",
        "version": 2,
        "before": {"production": 1, "candidate": {"version": 2, "mode": "canary", "percent": 10}},
        "after": {"production": 1, "candidate": {"version": 2, "mode": "canary", "percent": 50}},
    }

    code, out, _ = cli(capsys, "models", "promote", "model=dog_classifier:3", "shadow=true")
    assert (code, out) == (
        0,
        "dog_classifier: version 3 runs in shadow (called and logged, never answering); production stays 1; "
        "the canary of version 2 ended",
    )
    assert listed(capsys) == {1: (["production"], "production", 100), 2: ([], None, 0), 3: (["candidate"], "shadow", 0)}

    code, out, _ = cli(capsys, "models", "abort", "model=dog_classifier")
    assert (code, out) == (
        0,
        "dog_classifier: the shadow of version 3 ended (it stays the candidate, taking no traffic); "
        "production 1 answers every request",
    )

    code, out, _ = cli(capsys, "models", "promote", "model=dog_classifier:3")
    assert (code, out) == (
        0,
        "dog_classifier: version 3 is production and gets all traffic (was 1, still loadable as dog_classifier:1)",
    )
    assert listed(capsys) == {1: ([], None, 0), 2: ([], None, 0), 3: (["production"], "production", 100)}
    assert dogs.load_model("dog_classifier", 1) == {"weights": 0.80}  # the old version stays loadable

    code, out, _ = cli(capsys, "models", "rollback", "model=dog_classifier", "--json")
    assert code == 0
    assert json.loads(out) == {
        "name": "dog_classifier",
        "action": "rollback",
        "version": 1,
        "before": {"production": 3, "candidate": None},
        "after": {"production": 1, "candidate": None},
    }
    assert [(c.version, c.how) for c in dogs.rollout("dog_classifier").history] == [
        (1, "run"),
        (3, "promote"),
        (1, "rollback"),
    ]


def test_rollback_ends_a_canary_and_says_so(dogs: ModelStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "models", "promote", "model=dog_classifier:2")[0] == 0
    assert cli(capsys, "models", "promote", "model=dog_classifier:3", "canary=5")[0] == 0
    assert cli(capsys, "models", "rollback", "model=dog_classifier") == (
        0,
        "dog_classifier: production rolled back to version 1 (was 2); the canary of version 3 ended",
        "",
    )


def test_predict_style_references_follow_the_rollout(dogs: ModelStore, capsys: pytest.CaptureFixture[str]) -> None:
    cli(capsys, "models", "promote", "model=dog_classifier:2", "canary=10")
    assert dogs.resolve("dog_classifier@candidate") == ("dog_classifier", 2)
    assert dogs.resolve("dog_classifier") == ("dog_classifier", 1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["promote", "model=dog_classifier:1"], "model=dog_classifier:1 is already production; name another version"),
        (["promote", "model=dog_classifier:1", "canary=10"], "is already production"),
        (["promote", "model=dog_classifier:1", "shadow=true"], "is already production"),
        (["promote", "model=dog_classifier:9"], "model=dog_classifier:9: no version 9. Versions: 1, 2, 3."),
        (["promote", "model=cat:1"], "no model named 'cat'"),
        (["promote", "model=dog_classifier:2", "canary=0"], "canary=0: a canary takes a whole percent of traffic"),
        (["promote", "model=dog_classifier:2", "canary=100"], "from 1 to 99; to send all traffic to it, promote"),
        (["promote", "model=dog_classifier:2", "canary=ten"], "canary=ten: give the canary's share of traffic"),
        (["promote", "model=dog_classifier:2", "canary=2.5"], "in whole percent"),
        (["promote", "model=dog_classifier:2", "canary=10", "shadow=true"], "canary= and shadow=true do not go"),
        (["promote", "model=dog_classifier:2", "shadow=yes"], "shadow=yes: use shadow=true"),
        (["promote", "model=dog_classifier"], "name the version to promote by its number (e.g. model=dog_classi"),
        (["promote", "model=dog_classifier@candidate"], "(model=dog_classifier:3 is what dog_classifier@candidate"),
        (["promote"], "model= is required: NAME:VERSION to promote"),
        (["promote", "model=dog_classifier:2", "percent=10"], "unknown argument(s) percent="),
        (["rollback", "model=dog_classifier"], "nothing to roll back to: no production version before 1"),
        (["rollback", "model=dog_classifier:2"], "rollback takes the model's name (model=dog_classifier)"),
        (["rollback", "model=cat"], "no model named 'cat'"),
        (["abort", "model=dog_classifier"], "no canary, shadow or rollout is running, so nothing to abort"),
        (["abort", "model=dog_classifier@candidate"], "abort takes the model's name"),
        (["delete", "model=dog_classifier:1"], "is production; promote another version before deleting it"),
        (["frobnicate"], "use list, history, promote, rollback, abort or delete"),
    ],
)
def test_bad_input_is_a_one_line_error_with_exit_2(
    dogs: ModelStore, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = dogs.rollout("dog_classifier")
    code, out, err = cli(capsys, "models", *args)
    assert (code, out) == (2, "")
    assert message in err and err.startswith("error: ") and "\n" not in err
    assert dogs.rollout("dog_classifier") == before  # nothing changed


def test_delete_refuses_the_canary_and_the_shadow(dogs: ModelStore, capsys: pytest.CaptureFixture[str]) -> None:
    cli(capsys, "models", "promote", "model=dog_classifier:3", "canary=10")
    code, _, err = cli(capsys, "models", "delete", "model=dog_classifier:3")
    assert code == 2 and "answers 10% of traffic as a canary; end the canary first" in err
    cli(capsys, "models", "promote", "model=dog_classifier:3", "shadow=true")
    code, _, err = cli(capsys, "models", "delete", "model=dog_classifier:3")
    assert code == 2 and "runs in shadow; end the shadow first (automl models abort model=dog_classifier)" in err
    assert cli(capsys, "models", "abort", "model=dog_classifier")[0] == 0
    assert cli(capsys, "models", "delete", "model=dog_classifier:3") == (0, "deleted dog_classifier:3", "")
    assert dogs.aliases("dog_classifier") == {"production": 1}


def test_delete_with_an_unknown_argument_deletes_nothing(dogs: ModelStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "models", "delete", "model=dog_classifier:2", "force=true")[0] == 2
    assert dogs.versions("dog_classifier") == [1, 2, 3]
