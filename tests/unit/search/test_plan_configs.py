"""What a run tries: ``plan_configs`` (the search's configurations under ``max_trials`` and the
time budget) and the retrain mode (``plan_mode``, ``could_retrain``, ``still_available``,
``choose_configs``) at its edges. Uses a toy plugin, so no model is built or fitted."""

from __future__ import annotations

import dataclasses
import io
import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from automl.config.compose import load_recipe
from automl.config.validate import CheckedRecipe, check_recipe
from automl.errors import UserError
from automl.evaluate.artifacts import leaderboard_rows, write_artifacts
from automl.evaluate.leaderboard import LeaderboardEntry, Member
from automl.evaluate.trials import TrialConfig, TrialRecord
from automl.plugins.api import BACKBONE, FEATURES, BackboneSpec, TrainerSpec, hookimpl
from automl.plugins.manager import Plugins, build_plugins
from automl.search.configs import COSTLY_SHARE, MAX_CONFIGS, choose_configs, plan_configs, still_available
from automl.search.retrain import could_retrain, plan_mode, recipe_fingerprint
from automl.search.run_state import RunState

BACKBONE_NAME = "toy_bb"
COST_CALLS: list[tuple[int, int, float]] = []  # (epochs, n_examples, rate) of each cost estimate


@dataclass
class TuneConfig:
    epochs: int = 4
    lr: float = 0.01


@dataclass
class HeadConfig:
    c: float = 1.0


def tune_seconds(config: TuneConfig, n_examples: int, rate: float) -> float:
    COST_CALLS.append((config.epochs, n_examples, rate))
    return config.epochs * n_examples / rate


class ToyPlugin:
    """A head on embeddings (no cost estimate) and a costed fine-tuner, for images."""

    @staticmethod
    @hookimpl
    def register_trainers(register) -> None:
        register(
            TrainerSpec(
                name="toy_head",
                config_cls=HeadConfig,
                build=lambda config, context: None,
                tasks=("image_classification",),
                inputs=FEATURES,
                default_space={"c": {"loguniform": [0.1, 10.0]}},
            )
        )
        register(
            TrainerSpec(
                name="toy_tune",
                config_cls=TuneConfig,
                build=lambda config, context: None,
                tasks=("image_classification",),
                inputs=BACKBONE,
                cost=tune_seconds,
                stage=1,
                default_space={"epochs": {"int": [1, 20]}, "lr": {"loguniform": [1e-3, 1e-1]}},
            )
        )

    @staticmethod
    @hookimpl
    def register_backbones(register) -> None:
        register(BackboneSpec(name=BACKBONE_NAME, load=lambda config: None, modality="image"))


@pytest.fixture(scope="module")
def plugins() -> Plugins:
    return build_plugins(extra=[ToyPlugin])


def checked_recipe(plugins: Plugins, tmp_path: Path, search: str = "", seed: int = 0) -> CheckedRecipe:
    images = tmp_path / "images"
    (images / "a").mkdir(parents=True, exist_ok=True)
    path = tmp_path / "toy.yaml"
    path.write_text(
        "name: toy\n"
        f"seed: {seed}\n"
        "task: {type: image_classification}\n"
        f"data: {{path: {images}}}\n"
        f"workspace: {tmp_path / 'ws'}\n"
        f"search: {{trainers: [toy_head, toy_tune], backbones: [{BACKBONE_NAME}], augmenters: []{search}}}\n"
    )
    return check_recipe(load_recipe(str(path)), plugins)


def plan(plugins: Plugins, checked: CheckedRecipe, budget_s: float | None, rate: float = 100.0, n_rows: int = 1000):
    return plan_configs(
        checked, plugins, [BACKBONE_NAME], {"toy_tune": [BACKBONE_NAME]}, {BACKBONE_NAME: rate}, n_rows, budget_s
    )


# --- plan_configs ------------------------------------------------------------------------------


def test_without_a_budget_the_first_max_trials_configs_defaults_first(plugins: Plugins, tmp_path: Path) -> None:
    checked = checked_recipe(plugins, tmp_path, ", max_trials: 7")
    configs, notes = plan(plugins, checked, None)
    assert notes == []
    assert [c.index for c in configs] == list(range(7))
    assert all(c.backbone == BACKBONE_NAME for c in configs)
    # the fine-tuner is stage 1: it joins from the second round, each trainer's defaults first
    assert [c.trainer for c in configs[:4]] == ["toy_head", "toy_head", "toy_tune", "toy_head"]
    assert configs[0].params == {} and configs[2].params == {}
    assert all(c.params for c in configs[3:])  # then samples
    # reproducible from the seed, and a smaller cap is a prefix of a larger one
    assert plan(plugins, checked, None)[0] == configs
    assert plan(plugins, checked_recipe(plugins, tmp_path, ", max_trials: 3"), None)[0] == configs[:3]
    assert plan(plugins, checked_recipe(plugins, tmp_path, ", max_trials: 7", seed=1), None)[0] != configs


def test_max_trials_null_or_huge_is_capped_at_max_candidates(plugins: Plugins, tmp_path: Path) -> None:
    for cap in ("null", str(MAX_CONFIGS + 500)):
        checked = checked_recipe(plugins, tmp_path, f", max_trials: {cap}")
        configs, _ = plan(plugins, checked, None)
        assert len(configs) == MAX_CONFIGS


def test_a_budget_without_a_measured_rate_leaves_nothing_out(plugins: Plugins, tmp_path: Path) -> None:
    checked = checked_recipe(plugins, tmp_path, ", max_trials: 12")
    unlimited, _ = plan(plugins, checked, None)
    COST_CALLS.clear()
    assert plan(plugins, checked, 1.0, rate=0.0) == (unlimited, [])
    assert COST_CALLS == []  # nothing could be costed, so nothing was typed or costed


def test_a_generous_budget_tries_the_same_configs_as_no_budget(plugins: Plugins, tmp_path: Path) -> None:
    checked = checked_recipe(plugins, tmp_path, ", max_trials: 12")
    assert plan(plugins, checked, 1e9) == plan(plugins, checked, None)


def test_the_budget_leaves_out_costly_configs_and_notes_the_cheapest(plugins: Plugins, tmp_path: Path) -> None:
    checked = checked_recipe(plugins, tmp_path, ", max_trials: 10")
    n_rows, rate, budget = 1000, 100.0, 400.0
    folds = checked.recipe.eval.cv_folds
    n_train = n_rows * (folds - 1) // folds
    COST_CALLS.clear()
    configs, notes = plan(plugins, checked, budget, rate, n_rows)

    # every estimate is for a fit on the training part of a fold, at the measured rate
    assert COST_CALLS and {(n, r) for _, n, r in COST_CALLS} == {(n_train, rate)}
    # every costed config is estimated, past max_trials too, so the note is over all candidates
    assert len(COST_CALLS) > len(configs)

    def seconds(epochs: int) -> float:
        return epochs * n_train / rate * folds

    assert len(configs) == 10 and [c.index for c in configs] == list(range(10))
    tuned = [c for c in configs if c.trainer == "toy_tune"]
    assert tuned, "the defaults (4 epochs: 160 s of 400) fit"
    for c in tuned:
        assert seconds(c.params.get("epochs", 4)) <= COSTLY_SHARE * budget
    dropped = [e for e, _, _ in COST_CALLS if seconds(e) > COSTLY_SHARE * budget]
    assert dropped
    assert len(notes) == 1
    note = notes[0]
    assert (note["trainer"], note["backbone"]) == ("toy_tune", BACKBONE_NAME)
    assert f"needs about {seconds(min(dropped)):.0f} s for {folds} folds" in note["reason"]
    assert f"the search's {budget:.0f} s" in note["reason"]
    # what is tried: the unbudgeted sequence minus what does not fit, renumbered, cut at max_trials
    every, _ = plan(plugins, checked_recipe(plugins, tmp_path, ", max_trials: null"), None)
    fits = [c for c in every if c.trainer == "toy_head" or seconds(c.params.get("epochs", 4)) <= COSTLY_SHARE * budget]
    assert configs == [dataclasses.replace(c, index=i) for i, c in enumerate(fits[:10])]


def test_a_budget_too_small_for_any_fine_tuning_keeps_only_the_heads(plugins: Plugins, tmp_path: Path) -> None:
    checked = checked_recipe(plugins, tmp_path, ", max_trials: 6")
    configs, notes = plan(plugins, checked, budget_s=1.0)
    assert [c.trainer for c in configs] == ["toy_head"] * 6
    assert [c.index for c in configs] == list(range(6))
    assert [(n["trainer"], n["backbone"]) for n in notes] == [("toy_tune", BACKBONE_NAME)]
    # the heads are the unbudgeted plan's heads, in order
    unlimited, _ = plan(plugins, checked_recipe(plugins, tmp_path, ", max_trials: 20"), None)
    assert [c.params for c in configs] == [c.params for c in unlimited if c.trainer == "toy_head"][:6]


def test_no_backbone_loaded_means_no_configs_for_embedding_trainers(plugins: Plugins, tmp_path: Path) -> None:
    checked = checked_recipe(plugins, tmp_path, ", max_trials: 5")
    configs, notes = plan_configs(checked, plugins, [], {}, {}, 100, None)
    assert configs == [] and notes == []


# --- retrain mode ------------------------------------------------------------------------------


def config_of(trainer: str, params: dict[str, Any], score: float) -> LeaderboardEntry:
    return LeaderboardEntry("t", [Member(trainer, BACKBONE_NAME, params, 1.0)], np.full((4, 2), 0.5), None, [score] * 2)


def write_run(
    workspace: Path,
    recipe,
    run_id: str,
    ids: list[str],
    board: list[LeaderboardEntry],
    failed: list[TrialRecord] = (),
    recipe_hash: str | None = None,
) -> Path:
    """A finished run's folder as ``automl run`` writes it: leaderboard, folds, state and summary."""
    run_dir = workspace / "runs" / recipe.name / run_id
    run_dir.mkdir(parents=True)
    table = SimpleNamespace(
        ids=np.array(ids),
        sources=ids,
        labels=np.array(["a", "b"] * (len(ids) // 2)),
        classes=["a", "b"],
    )
    winner = SimpleNamespace(oof=np.full((len(ids), 2), 0.5))
    folds = np.arange(len(ids)) % 2
    write_artifacts(run_dir, table, folds, winner, leaderboard_rows(board, list(failed)), [])
    fingerprint = recipe_hash if recipe_hash is not None else recipe_fingerprint(recipe)
    RunState.from_board(fingerprint, board).write(run_dir)
    (run_dir / "summary.json").write_text(json.dumps({"recipe_hash": fingerprint}))
    return run_dir


def with_search(recipe, **changes):
    return dataclasses.replace(recipe, search=dataclasses.replace(recipe.search, **changes))


IDS = [f"id{i:02d}" for i in range(10)]


@pytest.fixture
def recipe(plugins: Plugins, tmp_path: Path):
    return checked_recipe(plugins, tmp_path, ", retrain_top_k: 2").recipe


def test_without_a_previous_run_auto_searches_and_retrain_is_a_user_error(recipe, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert plan_mode(recipe, IDS, ws).mode == "search"
    assert plan_mode(recipe, IDS, ws).reason == "no previous run of this recipe"
    assert not could_retrain(recipe, ws)
    with pytest.raises(UserError, match="search.mode=retrain: no previous run of 'toy'.*run a search first"):
        plan_mode(with_search(recipe, mode="retrain"), IDS, ws)
    assert not could_retrain(with_search(recipe, mode="retrain"), ws)


def test_a_retrain_plans_the_last_runs_best_single_configs_first(recipe, tmp_path: Path) -> None:
    """The ensemble and failed trials are skipped; the best single configuration (the winner
    when no ensemble won) comes first, then the next, up to ``retrain_top_k``."""
    ws = tmp_path / "ws"
    board = [
        LeaderboardEntry(
            "ensemble",
            [Member("toy_head", BACKBONE_NAME, {"c": 1.0}, 0.5), Member("toy_tune", BACKBONE_NAME, {}, 0.5)],
            np.full((4, 2), 0.5),
            None,
            [0.97, 0.97],
        ),
        config_of("toy_tune", {"epochs": 7, "lr": 0.02}, 0.95),
        config_of("toy_head", {"c": 2.5}, 0.90),
        config_of("toy_head", {}, 0.80),
    ]
    failed = [TrialRecord(9, "toy_head", {"c": 99.0}, BACKBONE_NAME, "failed", error="boom")]
    run_dir = write_run(ws, recipe, "20240101-000000-aaaa", IDS, board, failed)
    assert could_retrain(recipe, ws)
    result = plan_mode(recipe, IDS, ws)
    assert result.mode == "retrain" and result.previous_run == run_dir.name
    assert result.data_change == 0.0 and result.reason == "same recipe, data changed by 0.0%"
    assert result.configs == [
        TrialConfig(0, "toy_tune", {"epochs": 7, "lr": 0.02}, BACKBONE_NAME),
        TrialConfig(1, "toy_head", {"c": 2.5}, BACKBONE_NAME),
    ]
    # (another retrain_top_k is another recipe: auto mode would search, so force the retrain)
    top_1 = plan_mode(with_search(recipe, mode="retrain", retrain_top_k=1), IDS, ws)
    assert [c.params for c in top_1.configs] == [{"epochs": 7, "lr": 0.02}]


def test_a_table_runs_configs_have_no_backbone(recipe, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    board = [LeaderboardEntry("t000", [Member("toy_head", None, {"c": 3.0}, 1.0)], np.zeros((4, 2)), None, [0.9])]
    write_run(ws, recipe, "20240101-000000-aaaa", IDS, board)
    assert plan_mode(recipe, IDS, ws).configs == [TrialConfig(0, "toy_head", {"c": 3.0}, None)]


def test_the_data_change_limit_is_inclusive_and_retrain_mode_ignores_it(recipe, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    write_run(ws, recipe, "20240101-000000-aaaa", IDS, [config_of("toy_head", {}, 0.9)])
    half = IDS[3:] + ["new1", "new2"]  # 3 removed + 2 added = 5 of 10: exactly the limit
    at_limit = plan_mode(with_search(recipe, retrain_max_change=0.5), half, ws)
    assert at_limit.mode == "retrain" and at_limit.data_change == pytest.approx(0.5)
    more = IDS[4:] + ["new1", "new2"]  # 6 of 10
    over = plan_mode(with_search(recipe, retrain_max_change=0.5), more, ws)
    assert over.mode == "search" and over.data_change == pytest.approx(0.6)
    assert "the data changed by 60% > search.retrain_max_change" in over.reason
    forced = plan_mode(with_search(recipe, mode="retrain", retrain_max_change=0.5), more, ws)
    assert forced.mode == "retrain" and forced.reason == "search.mode=retrain"
    assert plan_mode(with_search(recipe, mode="search"), IDS, ws).mode == "search"
    assert not could_retrain(with_search(recipe, mode="search"), ws)


def test_a_changed_recipe_searches_in_auto_mode_only(recipe, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    write_run(ws, recipe, "20240101-000000-aaaa", IDS, [config_of("toy_head", {}, 0.9)], recipe_hash="other")
    changed = plan_mode(recipe, IDS, ws)
    assert changed.mode == "search" and changed.reason == "the recipe changed since the last run"
    assert not could_retrain(recipe, ws)
    retrain = with_search(recipe, mode="retrain")
    assert could_retrain(retrain, ws) and plan_mode(retrain, IDS, ws).mode == "retrain"


def test_the_fingerprint_ignores_workspace_mode_and_retention_only(recipe) -> None:
    base = recipe_fingerprint(recipe)
    assert recipe_fingerprint(dataclasses.replace(recipe, workspace="/elsewhere")) == base
    assert recipe_fingerprint(with_search(recipe, mode="retrain")) == base
    assert (
        recipe_fingerprint(dataclasses.replace(recipe, deploy=dataclasses.replace(recipe.deploy, retention_days=3)))
        == base
    )
    assert recipe_fingerprint(dataclasses.replace(recipe, seed=recipe.seed + 1)) != base
    assert recipe_fingerprint(with_search(recipe, max_trials=3)) != base
    assert recipe_fingerprint(with_search(recipe, retrain_top_k=9)) != base


def test_a_last_run_without_a_completed_configuration(recipe, tmp_path: Path) -> None:
    """Only failed trials (an empty ranked leaderboard): auto searches, retrain is a user error."""
    ws = tmp_path / "ws"
    failed = [TrialRecord(0, "toy_head", {}, BACKBONE_NAME, "failed", error="boom")]
    write_run(ws, recipe, "20240101-000000-aaaa", IDS, [], failed)
    auto = plan_mode(recipe, IDS, ws)
    assert auto.mode == "search" and auto.reason == "the last run has no completed configuration"
    with pytest.raises(UserError, match=r"search.mode=retrain: the last run \(20240101-000000-aaaa\) has no completed"):
        plan_mode(with_search(recipe, mode="retrain"), IDS, ws)


def test_the_latest_finished_run_is_the_one_retrained(recipe, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    write_run(ws, recipe, "20240101-000000-aaaa", IDS, [config_of("toy_head", {"c": 1.0}, 0.9)])
    write_run(ws, recipe, "20240102-000000-bbbb", IDS, [config_of("toy_head", {"c": 2.0}, 0.9)])
    (ws / "runs" / recipe.name / "20240103-000000-cccc").mkdir()  # a run that crashed: no summary
    result = plan_mode(recipe, IDS, ws)
    assert result.previous_run == "20240102-000000-bbbb"
    assert [c.params for c in result.configs] == [{"c": 2.0}]


def prepared(backbones: list[str]) -> SimpleNamespace:
    return SimpleNamespace(
        backbones=backbones,
        tunable={"toy_tune": list(backbones)},
        forward_rates={b: 100.0 for b in backbones},
    )


def test_configs_whose_trainer_or_backbone_is_gone_are_dropped(plugins: Plugins, tmp_path: Path) -> None:
    checked = checked_recipe(plugins, tmp_path)
    configs = [
        TrialConfig(0, "uninstalled_trainer", {}, BACKBONE_NAME),
        TrialConfig(1, "toy_tune", {"epochs": 3}, BACKBONE_NAME),
        TrialConfig(2, "toy_head", {}, "unloaded_backbone"),
        TrialConfig(3, "toy_head", {"c": 2.0}, BACKBONE_NAME),
    ]
    kept = still_available(configs, checked, plugins, [BACKBONE_NAME], {"toy_tune": [BACKBONE_NAME]})
    assert kept == [
        TrialConfig(0, "toy_tune", {"epochs": 3}, BACKBONE_NAME),
        TrialConfig(1, "toy_head", {"c": 2.0}, BACKBONE_NAME),
    ]
    # a fine-tuner's config needs its backbone to be tunable, not only loaded
    assert [c.trainer for c in still_available(configs, checked, plugins, [BACKBONE_NAME], {})] == ["toy_head"]


def test_a_retrain_with_nothing_left_to_train_becomes_a_search(plugins: Plugins, recipe, tmp_path: Path) -> None:
    checked = checked_recipe(plugins, tmp_path, ", max_trials: 4")
    ws = tmp_path / "ws"
    write_run(ws, checked.recipe, "20240101-000000-aaaa", IDS, [config_of("uninstalled_trainer", {"x": 1}, 0.9)])
    retrain = plan_mode(checked.recipe, IDS, ws)
    assert retrain.mode == "retrain" and retrain.configs[0].trainer == "uninstalled_trainer"
    log = io.StringIO()
    choice = choose_configs(retrain, checked, plugins, prepared([BACKBONE_NAME]), 1000, log)
    assert not choice.retrain and choice.plan.mode == "search"
    assert "a backbone or trainer is missing" in choice.plan.reason
    assert choice.plan.previous_run == "20240101-000000-aaaa"
    assert log.getvalue().startswith("mode: search (none of the last run's best configurations can train now")
    assert choice.configs == plan(plugins, checked, None)[0] and len(choice.configs) == 4


def test_a_retrain_keeps_what_can_still_train_and_ignores_the_budget(plugins: Plugins, tmp_path: Path) -> None:
    checked = checked_recipe(plugins, tmp_path, ", max_trials: 4")
    ws = tmp_path / "ws"
    board = [config_of("toy_tune", {"epochs": 20}, 0.95), config_of("toy_head", {"c": 2.0}, 0.9)]
    write_run(ws, checked.recipe, "20240101-000000-aaaa", IDS, board)
    retrain = plan_mode(checked.recipe, IDS, ws)
    log = io.StringIO()
    choice = choose_configs(retrain, checked, plugins, prepared([BACKBONE_NAME]), 1000, log, budget_s=1.0)
    assert choice.retrain and choice.left_out == [] and log.getvalue() == ""
    assert [(c.index, c.trainer, c.params) for c in choice.configs] == [
        (0, "toy_tune", {"epochs": 20}),
        (1, "toy_head", {"c": 2.0}),
    ]
