"""Small models trained for real, the way ``automl.runner.fit_model`` builds them: a trainer's
estimator fitted on a view, wrapped in a ``FittedModel`` with the view. No test reaches the network."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from automl.config.validate import typed_options
from automl.features.tabular import FeatureSchema
from automl.features.views import FEATURES_VIEW, TabularView
from automl.model import FittedMember, FittedModel
from automl.plugins.builtin import embedding_trainers, trainers
from automl.plugins.components import TrainContext, TrainerSpec
from automl.testing import specs_of

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


def write_images(folder: Path, n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """``n`` small PNGs of two classes and varied shapes: 0 is bluish noise, 1 has a red square."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths, labels = [], []
    for i in range(n):
        label = i % 2
        w, h = [(48, 40), (40, 56), (72, 72), (30, 26)][i % 4]
        pixels = rng.normal(110, 25, (h, w, 3))
        if label:
            pixels[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = (230, 40, 40)
        else:
            pixels[..., 2] += 70
        path = folder / f"img{i:03d}.png"
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)
        paths.append(str(path))
        labels.append(label)
    return paths, np.asarray(labels, dtype=np.int64)


@pytest.fixture(scope="session")
def fit_trainer() -> Callable[..., Any]:
    """``fit(trainer_name, params, ctx, X, y)`` as a fixture (test modules are imported by path)."""
    return fit


@pytest.fixture(scope="session")
def make_images() -> Callable[..., tuple[list[str], np.ndarray]]:
    return write_images


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs offline: the model hub is never contacted."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
