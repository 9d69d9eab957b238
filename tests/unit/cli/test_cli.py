import json
from pathlib import Path

import pytest

from automl.cli import main


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fly"], "Unknown command 'fly'"),
        (["run"], "recipe= is required"),
        (["run", "recipe=nope"], "no ready recipe of that name"),
        (["run", "recipe=income", "eval.cv_folds=1"], "must be an int >= 2"),
        (["plugins", "--verbose"], "unknown option(s) --verbose"),
        (["predict", "model=ghost", "input=x.csv", "output=y.csv"], "no model named 'ghost'"),
        (["models", "delete", "model=ghost"], "name the version to delete"),
        (["models", "frobnicate"], "unknown action"),
        (["show", "recipe=income", "stray"], "arguments are key=value"),
    ],
)
def test_user_errors_are_one_line_with_exit_2(
    args: list[str], message: str, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_models_on_an_empty_workspace(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0
    assert "no models yet" in capsys.readouterr().out
    assert main(["models", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_show_prints_the_resolved_recipe(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "recipe=income", "seed=7", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["seed"] == 7 and shown["data"]["target"] == "income"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "model=ghost", "colour=red"], "unknown argument(s) colour="),
        (["serve", "model=ghost", "port=0"], "model=ghost: no such model"),
        (["serve", "models=[]", "port=0"], "models=[]: name at least one model"),
        (["models", "promote", "model=ghost:1", "canary=ten"], "no model named 'ghost'"),
        (["models", "promote", "model=ghost:1", "canary=ten", "colour=red"], "unknown argument(s) colour="),
    ],
)
def test_which_error_comes_first(
    args: list[str], message: str, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unknown arguments first, then the model, then the values of the options."""
    assert main(args) == 2
    assert message in capsys.readouterr().err
