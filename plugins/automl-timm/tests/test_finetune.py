"""The ``finetune`` trainer: it updates the chosen layers of a timm backbone (random weights, built
here; no network), stops early on its hold-out, uses the recipe's augmenters, and saves without the
embedder it started from."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from automl_timm import plugin
from automl_timm.configs import FinetuneConfig, FlipConfig, NoiseConfig, TimmBackboneConfig
from automl_timm.finetune import finetune_cost, holdout_mask, trainable_names

from automl.config.validate import typed_options
from automl.errors import UserError
from automl.plugins.api import TrainContext, TrainerSpec
from automl.plugins.components import BACKBONE
from automl.testing import specs_of

FAST = {"image_size": 32, "epochs": 3, "batch_size": 16, "lr": 3e-3}


def _spec() -> TrainerSpec:
    (spec,) = [s for s in specs_of(plugin, "register_trainers") if s.name == "finetune"]
    return spec


@pytest.fixture(scope="module")
def resnet18():
    return plugin.load_timm_backbone("resnet18", "resnet18", (), TimmBackboneConfig(pretrained=False))


def _fit(embedder, config: FinetuneConfig, X, y, n_classes: int = 2, augmenters=()):
    spec = _spec()
    assert spec.build is not None
    ctx = TrainContext("image_classification", n_classes, 0, backbone=embedder, augmenters=augmenters)
    estimator = spec.build(config, ctx)
    estimator.fit(X, y)
    return estimator


def test_spec_pairs_with_timm_backbones_and_estimates_cost(resnet18):
    spec = _spec()
    assert spec.inputs == BACKBONE and spec.tasks == ("image_classification",)
    assert spec.accepts_backbone is not None and spec.accepts_backbone(resnet18)
    assert not spec.accepts_backbone(object())
    assert spec.cost is not None
    last, every = (
        spec.cost(FinetuneConfig(epochs=5), 100, 50.0),
        spec.cost(FinetuneConfig(train="all", epochs=5), 100, 50.0),
    )
    assert 0 < last < every
    assert finetune_cost("all", 5, 112, 100, 50.0) == pytest.approx(every / 4)


def test_bad_options_are_recipe_errors():
    with pytest.raises(UserError, match=r"search\.space\.finetune: train must be 'last' or 'all'"):
        typed_options(FinetuneConfig, {"train": "middle"}, "search.space.finetune")
    with pytest.raises(UserError, match=r"holdout must be in"):
        typed_options(FinetuneConfig, {"holdout": 0.9}, "search.space.finetune")


def test_last_stage_training_leaves_early_layers_unchanged(resnet18, tmp_path, make_images):
    names = trainable_names(resnet18.model, "last")
    assert names and all(n.startswith(("layer4.",)) for n in names), sorted(names)[:3]
    assert trainable_names(resnet18.model, "all") == {n for n, _ in resnet18.model.named_parameters()}
    paths, y = make_images(tmp_path, 24, size=(32, 32))
    estimator = _fit(resnet18, FinetuneConfig(**FAST, train="last"), np.asarray(paths, dtype=object), y)
    tuned = dict(estimator.model_.backbone.named_parameters())
    original = dict(resnet18.model.named_parameters())
    assert all(np.array_equal(tuned[n].detach(), original[n].detach()) for n in original if n not in names)
    assert any(not np.array_equal(tuned[n].detach(), original[n].detach()) for n in names)


def test_learns_predicts_and_saves_without_the_embedder(resnet18, tmp_path, make_images):
    paths, y = make_images(tmp_path, 48, size=(32, 32))
    X = np.asarray(paths, dtype=object)
    augmenters = (
        plugin.build_augmenter("flip", FlipConfig(seed=0)),
        plugin.build_augmenter("noise", NoiseConfig(seed=0)),
    )
    config = FinetuneConfig(**{**FAST, "epochs": 6}, train="all", patience=6)
    estimator = _fit(resnet18, config, X, y, augmenters=augmenters)
    proba = estimator.predict_proba(X)
    assert proba.shape == (48, 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert (proba.argmax(axis=1) == y).mean() > 0.8, "fine-tuning learnt nothing on a learnable problem"
    assert [h["epoch"] for h in estimator.history_] == list(range(1, len(estimator.history_) + 1))
    assert all("holdout_loss" in h for h in estimator.history_)
    restored = pickle.loads(pickle.dumps(estimator))
    assert restored.embedder is None
    np.testing.assert_allclose(restored.predict_proba(X), proba, atol=1e-6)
    assert len(pickle.dumps(estimator)) < 1.3 * len(pickle.dumps(estimator.model_))


def test_early_stopping_ends_training_when_the_holdout_stops_improving(resnet18, tmp_path, make_images):
    paths, y = make_images(tmp_path, 24, size=(32, 32))
    config = FinetuneConfig(**{**FAST, "epochs": 12, "lr": 0.3}, train="all", patience=0)  # diverges
    estimator = _fit(resnet18, config, np.asarray(paths, dtype=object), y)
    assert len(estimator.history_) < 12


def test_refuses_a_backbone_it_cannot_tune(tmp_path, make_images):
    paths, y = make_images(tmp_path, 6, size=(32, 32))
    with pytest.raises(TypeError, match="timm backbone"):
        _fit(object(), FinetuneConfig(**FAST), np.asarray(paths, dtype=object), y)


def test_holdout_is_stratified_and_keeps_training_rows():
    y = np.array([0] * 20 + [1] * 10 + [2] * 2)
    mask = holdout_mask(y, 0.2, 0)
    assert mask[y == 0].sum() == 4 and mask[y == 1].sum() == 2 and mask[y == 2].sum() == 0
    assert not holdout_mask(y, 0.0, 0).any()
