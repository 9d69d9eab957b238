"""Trainers that fine-tune a backbone: pairing with the backbones they accept, the time-budget gate
that leaves out configurations too costly for the budget, and the recipe keys they use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from automl.config.compose import load_recipe, open_map_overrides
from automl.config.validate import check_recipe
from automl.errors import UserError
from automl.evaluate.trials import TrialConfig
from automl.plugins.api import TrainerSpec, hookimpl
from automl.plugins.components import BACKBONE
from automl.plugins.manager import build_plugins
from automl.search.configs import COSTLY_SHARE, affordable, trainer_backbone_pairs


@dataclass
class TuneConfig:
    epochs: int = 4


class TunerPlugin:
    """A fine-tuning trainer that takes only backbones named ``good*`` and costs ``epochs`` passes."""

    @hookimpl
    def register_trainers(self, register: Callable[[TrainerSpec], None]) -> None:
        register(
            TrainerSpec(
                name="tuner",
                config_cls=TuneConfig,
                build=lambda cfg, ctx: None,  # type: ignore[arg-type,return-value]
                tasks=("image_classification",),
                inputs=BACKBONE,
                accepts_backbone=lambda embedder: embedder.identity.startswith("good"),
                cost=lambda cfg, n, rate: cfg.epochs * n / rate,
                default_space={"epochs": {"int": [1, 20]}},
            )
        )


@pytest.fixture(scope="module")
def plugins():
    return build_plugins(extra=[TunerPlugin()])


def test_a_fine_tuning_trainer_pairs_only_with_the_backbones_it_takes(plugins) -> None:
    pairs = trainer_backbone_pairs(plugins, ["tuner", "linear_probe"], ["b1", "b2"], tunable={"tuner": ["b2"]})
    assert pairs == [("tuner", "b2"), ("linear_probe", "b1"), ("linear_probe", "b2")]
    assert trainer_backbone_pairs(plugins, ["tuner"], ["b1"], tunable={}) == []


def test_configs_too_costly_for_the_budget_are_left_out_with_a_note(plugins) -> None:
    configs = [
        TrialConfig(0, "linear_probe", {}, "b"),
        TrialConfig(1, "tuner", {"epochs": 2}, "b"),
        TrialConfig(2, "tuner", {"epochs": 10}, "b"),
    ]
    # 100 examples at 100/s: 1 s per epoch, x 3 folds; the budget's share is 0.5 * 20 s = 10 s.
    kept, notes = affordable(configs, plugins, 20.0, 100, 3, {"b": 100.0})
    assert [(c.index, c.trainer, c.params) for c in kept] == [
        (0, "linear_probe", {}),
        (1, "tuner", {"epochs": 2}),
    ]
    assert len(notes) == 1 and notes[0]["trainer"] == "tuner" and notes[0]["backbone"] == "b"
    assert "needs about 30 s for 3 folds" in notes[0]["reason"] and f"{COSTLY_SHARE:.0%}" in notes[0]["reason"]
    assert affordable(configs, plugins, None, 100, 3, {"b": 100.0}) == (configs, [])


def test_open_maps_take_new_keys_without_a_plus() -> None:
    assert open_map_overrides(["search.space.finetune.epochs=3", "seed=1", "+search.space.x.y=1"]) == [
        "++search.space.finetune.epochs=3",
        "seed=1",
        "+search.space.x.y=1",
    ]


def test_augmenters_are_checked_when_a_trainer_fine_tunes(tmp_path: Path, plugins) -> None:
    images = tmp_path / "photos"
    for label in ("a", "b"):
        (images / label).mkdir(parents=True)
    base = ["data.loader=image_folder", f"data.path={images}", "task.type=image_classification", "name=t"]
    recipe_file = tmp_path / "r.yaml"
    recipe_file.write_text("name: t\n")
    tuned = [*base, "search.trainers=[tuner]", "search.backbones=[resnet18]"]
    checked = check_recipe(load_recipe(str(recipe_file), tuned), plugins)
    assert [name for name, _ in checked.augmenters] == ["flip", "crop", "color_jitter"]
    with pytest.raises(UserError, match=r"search\.augmenters\[1\]: .*'blur'"):
        check_recipe(load_recipe(str(recipe_file), [*tuned, "search.augmenters=[flip,blur]"]), plugins)
    with pytest.raises(UserError, match=r"search\.augmenter_options\.rotate: 'rotate' is not in search\.augmenters"):
        check_recipe(load_recipe(str(recipe_file), [*tuned, "search.augmenter_options.rotate.degrees=5"]), plugins)
    with pytest.raises(UserError, match=r"search\.augmenter_options\.flip\.p"):
        check_recipe(load_recipe(str(recipe_file), [*tuned, "search.augmenter_options.flip.p=often"]), plugins)
    untuned = [*base, "search.trainers=[scratch_cnn]", "search.augmenters=[blur]"]
    assert check_recipe(load_recipe(str(recipe_file), untuned), plugins).augmenters == []
