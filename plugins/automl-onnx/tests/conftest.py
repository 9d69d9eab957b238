"""Small models trained for real, the way ``automl.train.runner.fit_model`` builds them: a trainer's
estimator fitted on a view, wrapped in a ``FittedModel`` with the view. No test reaches the network."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import pytest

from automl.builtin import embedding_trainers, trainers
from automl.config.validate import typed_options
from automl.features.tabular import FeatureSchema
from automl.features.views import FEATURES_VIEW, TabularView
from automl.model.fitted import FittedMember, FittedModel
from automl.plugins.components import TrainContext, TrainerSpec
from automl.testing import specs_of, write_image_folder

CITIES = [f"city{i:02d}" for i in range(40)]  # more than one-hot's 32: the rare ones become "infrequent"


def trainer_spec(name: str) -> TrainerSpec:
    specs = specs_of(trainers, "register_trainers") + specs_of(embedding_trainers, "register_trainers")
    if name == "lightgbm":
        plugin = pytest.importorskip("automl_lightgbm.plugin")
        specs = specs_of(plugin, "register_trainers")
    return {s.name: s for s in specs}[name]  # type: ignore[return-value]


def fit(name: str, params: dict[str, Any], ctx: TrainContext, X: Any, y: np.ndarray) -> Any:
    spec = trainer_spec(name)
    assert spec.build is not None
    config = typed_options(spec.config_cls, params, name)
    return spec.build(config, ctx).fit(X, y)


def make_table(n: int, n_classes: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Numeric columns with gaps, a 5-category column with gaps, a 40-category skewed column."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    frame = pd.DataFrame(
        {
            "length": rng.normal(10, 3, n) + 2.5 * y,
            "weight": rng.gamma(2.0, 2.0, n) * (1 + 0.3 * (y == 1)),
            "count": rng.integers(0, 6, n).astype(float),
            "colour": np.array(["red", "green", "blue", "black", "white"])[(y + rng.integers(0, 3, n)) % 5],
            "city": np.array(CITIES)[np.minimum(rng.zipf(1.6, n) - 1, len(CITIES) - 1)],
        }
    )
    frame.loc[rng.random(n) < 0.1, "length"] = np.nan
    frame.loc[rng.random(n) < 0.1, "count"] = np.nan
    frame["colour"] = frame["colour"].astype(object)
    frame.loc[rng.random(n) < 0.1, "colour"] = np.nan
    return frame, y


class Table:
    """A fitted-model factory over one training table, and held-out rows with unseen categories."""

    def __init__(self, n_classes: int, seed: int = 0) -> None:
        frame, self.y = make_table(240, n_classes, seed)
        self.classes = [f"class{k}" for k in range(n_classes)]
        self.schema = FeatureSchema.infer(frame)
        self.X = self.schema.coerce(frame)
        self.ctx = TrainContext("tabular_classification", n_classes, seed, self.schema.numeric, self.schema.categorical)
        check, _ = make_table(60, n_classes, seed + 1)
        check.loc[::7, "colour"] = "purple"  # unseen in training
        check.loc[::9, "city"] = "atlantis"
        check.loc[::11, "weight"] = np.nan  # never missing in training
        self.check = check

    def model(self, members: list[tuple[str, dict[str, Any], float]], threshold: float | None = None) -> FittedModel:
        fitted = [FittedMember(FEATURES_VIEW, fit(n, p, self.ctx, self.X, self.y), w) for n, p, w in members]
        views = {FEATURES_VIEW: TabularView(self.schema)}
        return FittedModel("tabular_classification", self.classes, views, fitted, threshold)


@pytest.fixture(scope="session")
def table3() -> Table:
    return Table(n_classes=3)


@pytest.fixture(scope="session")
def table2() -> Table:
    return Table(n_classes=2, seed=3)


@pytest.fixture(scope="session")
def fit_trainer() -> Callable[..., Any]:
    """``fit(trainer_name, params, ctx, X, y)`` as a fixture (test modules are imported by path)."""
    return fit


@pytest.fixture(scope="session")
def make_images() -> Callable[..., tuple[list[str], np.ndarray]]:
    """``make_images(folder, n, seed=0)``: ``n`` small PNGs of two classes (0 bluish noise, 1 with a
    red square) in four shapes, so the image preprocessing meets several sizes and aspect ratios."""
    return partial(write_image_folder, sizes=((48, 40), (40, 56), (72, 72), (30, 26)))


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs offline: the model hub is never contacted."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
