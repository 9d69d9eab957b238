from pathlib import Path

import pytest

from automl.config.compose import load_recipe, ready_recipes
from automl.config.validate import check_recipe
from automl.errors import UserError
from automl.paths import recipes_dir
from automl.plugins.manager import get_plugins


def checked(recipe: str, *overrides: str):
    return check_recipe(load_recipe(recipe, list(overrides)), get_plugins())


@pytest.mark.parametrize("name", sorted(p.stem for p in recipes_dir().glob("*.yaml")))
def test_every_ready_recipe_composes_and_validates(name: str, shared_data: Path) -> None:
    result = checked(name)
    assert result.recipe.name == name
    assert Path(result.recipe.data.path).exists()


def test_ready_recipes_include_income_and_a_second_tabular_recipe() -> None:
    assert "income" in ready_recipes()
    assert len(ready_recipes()) >= 2


def recipe_file(tmp_path: Path, csv: Path, extra: str = "") -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(f"name: mine\ndata:\n  path: {csv}\n  target: label\n{extra}")
    return path


def test_a_recipe_file_anywhere_with_overrides(tmp_path: Path, small_csv: Path) -> None:
    path = recipe_file(tmp_path, small_csv)
    r = checked(str(path), "eval.cv_folds=3", "seed=7", "search.trainers=[logistic_regression]").recipe
    assert (r.eval.cv_folds, r.seed, r.search.trainers) == (3, 7, ["logistic_regression"])


def test_group_override_switches_a_conf_preset(shared_data: Path) -> None:
    r = checked("income", "search=quick").recipe
    assert r.search.max_trials == 4 and r.search.time_budget_s is None
    assert checked("income").recipe.search.time_budget_s == 60


def test_relative_data_path_is_relative_to_the_current_directory(
    tmp_path: Path, small_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(small_csv.parent)
    r = checked(str(recipe_file(tmp_path, Path(small_csv.name))))
    assert r.recipe.data.path == str(small_csv.resolve())


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("data.foo=1", "Unknown key 'data.foo'"),
        ("eval.cv_folds=abc", "eval.cv_folds"),
        ("eval.cv_folds=1", "The 'cv_folds' option of eval must be an int >= 2. Got 1."),
        ("search.trainers=[random_forrest]", "did you mean 'random_forest'"),
        ("eval.metric=rocauc", "Registered: accuracy, balanced_accuracy"),
        (
            "+search.space.logistic_regression.alpha=1",
            "Unknown hyperparameter 'search.space.logistic_regression.alpha'",
        ),
        ("+search.space.logistic_regression.C={normal:[1,2]}", "a search spec is one of uniform"),
        ("+search.space.logistic_regression.C={loguniform:[0,2]}", "loguniform bounds must be > 0"),
        ("+search.space.logistic_regression.C={choice:[a,b]}", "search.space.logistic_regression.C"),
        ("+search.space.finetune.epochs=3", "is not in search.trainers"),
        ("data.path=/nonexistent/file.csv", "no such file or directory"),
        ("data.target=null", "data.target is required"),
        ("search.time_budget_s=null", "set time_budget_s or max_trials"),
        ("data.loader=sql", "data.loader: Unknown loader 'sql'"),
        ("name=bad/name", "name: use letters"),
        ("+data.options.sepp=x", "Unknown key 'data.options.sepp'"),
        (
            "deploy.retention_days=-1",
            "The 'retention_days' option of deploy must be a number >= 0 (null keeps invokes forever). Got -1.0.",
        ),
        ("deploy.retention_days=inf", "The 'retention_days' option of deploy must be a number >= 0"),
        ("deploy.retention_days=abc", "deploy.retention_days"),
    ],
)
def test_bad_recipes_fail_with_one_line_naming_the_key(
    override: str, message: str, tmp_path: Path, small_csv: Path
) -> None:
    path = recipe_file(tmp_path, small_csv, "search:\n  max_trials: null\n" if "time_budget" in override else "")
    with pytest.raises(UserError) as err:
        checked(str(path), override)
    text = str(err.value)
    assert message in text
    assert "\n" not in text


@pytest.mark.parametrize(
    ("override", "days"), [(None, 90.0), ("deploy.retention_days=0.5", 0.5), ("deploy.retention_days=null", None)]
)
def test_retention_days_defaults_to_90_and_null_keeps_forever(
    override: str | None, days: float | None, tmp_path: Path, small_csv: Path
) -> None:
    overrides = [override] if override else []
    assert checked(str(recipe_file(tmp_path, small_csv)), *overrides).recipe.deploy.retention_days == days


def test_retention_does_not_make_a_recipe_new_for_retraining(tmp_path: Path, small_csv: Path) -> None:
    from automl.search.retrain import recipe_fingerprint

    recipe = str(recipe_file(tmp_path, small_csv))
    same = {recipe_fingerprint(checked(recipe, *o).recipe) for o in ([], ["deploy.retention_days=7"])}
    assert len(same) == 1
    assert recipe_fingerprint(checked(recipe, "seed=3").recipe) not in same


def test_unknown_recipe_name_suggests_a_ready_one() -> None:
    with pytest.raises(UserError, match="did you mean 'income'"):
        load_recipe("incme")


def test_missing_name_is_a_user_error(tmp_path: Path, small_csv: Path) -> None:
    path = tmp_path / "noname.yaml"
    path.write_text(f"data:\n  path: {small_csv}\n  target: label\n")
    with pytest.raises(UserError, match="name"):
        load_recipe(str(path))


def test_bad_override_grammar_is_a_user_error(tmp_path: Path, small_csv: Path) -> None:
    with pytest.raises(UserError, match="Cannot compose"):
        load_recipe(str(recipe_file(tmp_path, small_csv)), ["search.trainers=[a,"])
