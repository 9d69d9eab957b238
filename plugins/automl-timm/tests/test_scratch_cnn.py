"""The from-scratch CNN trainer, checked as automl.testing.check_trainer checks a tabular one, but on
small synthetic images (check_trainer itself builds a tabular problem)."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
from automl_timm import plugin

from automl.config.space import build_space
from automl.config.validate import typed_options
from automl.plugins.api import TrainContext, TrainerSpec
from automl.plugins.components import RAW
from automl.testing import specs_of

FAST = {"image_size": 32, "epochs": 8, "batch_size": 16}


def _spec() -> TrainerSpec:
    (spec,) = [s for s in specs_of(plugin, "register_trainers") if s.name == "scratch_cnn"]
    assert isinstance(spec, TrainerSpec)
    return spec


def _fit(spec: TrainerSpec, config, X, y, n_classes: int, seed: int = 0):
    assert spec.build is not None
    estimator = spec.build(config, TrainContext("image_classification", n_classes, seed))
    estimator.fit(X, y)
    return estimator, np.asarray(estimator.predict_proba(X), dtype=float)


def test_spec():
    spec = _spec()
    assert spec.name == "scratch_cnn" and spec.inputs == RAW and spec.tasks == ("image_classification",)
    assert dataclasses.is_dataclass(spec.config_cls)


def test_fits_predicts_pickles_and_is_deterministic(tmp_path, make_images):
    paths, y = make_images(tmp_path, 40, size=(32, 32))
    X = np.asarray(paths, dtype=object)
    spec = _spec()
    config = spec.config_cls(**FAST)
    estimator, proba = _fit(spec, config, X, y, 2)
    assert proba.shape == (40, 2)
    assert np.all(proba >= 0) and np.allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert list(estimator.classes_) == [0, 1]
    assert (proba.argmax(axis=1) == y).mean() > 0.75, "no better than chance on a learnable problem"
    restored = pickle.loads(pickle.dumps(estimator))
    np.testing.assert_allclose(restored.predict_proba(X), proba)
    _, again = _fit(spec, config, X, y, 2)
    np.testing.assert_allclose(again, proba, atol=1e-6)


def test_keeps_every_class_column_when_a_class_is_absent(tmp_path, make_images):
    paths, y = make_images(tmp_path, 12, size=(32, 32))
    spec = _spec()
    estimator, proba = _fit(spec, spec.config_cls(**{**FAST, "epochs": 2}), np.asarray(paths, dtype=object), y, 3)
    assert proba.shape == (12, 3) and list(estimator.classes_) == [0, 1, 2]


def test_default_space_samples_valid_configs(tmp_path, make_images):
    spec = _spec()
    space = build_space("search.space.scratch_cnn", spec.config_cls, spec.default_space, {})
    rng = np.random.default_rng(0)
    paths, y = make_images(tmp_path, 10, size=(32, 32))
    for _ in range(2):
        params = space.sample(rng)
        config = typed_options(spec.config_cls, params, "search.space.scratch_cnn")
        assert config.image_size in (48, 64) and 1e-3 <= config.lr <= 1e-2
        _, proba = _fit(spec, dataclasses.replace(config, epochs=1), np.asarray(paths, dtype=object), y, 2)
        assert proba.shape == (10, 2)
