"""Conformance checks a plugin's own tests call, as scikit-learn's ``check_estimator`` does.

    from automl.testing import check_trainer, specs_of
    from my_plugin import plugin

    def test_my_trainer_conforms():
        for spec in specs_of(plugin, "register_trainers"):
            check_trainer(spec)

Each check raises ``AssertionError`` with a message that says what the component got wrong.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pickle
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from automl.config.space import build_space
from automl.config.validate import typed_options
from automl.plugins.components import (
    ComponentSpec,
    LoaderSpec,
    LoadRequest,
    MetricSpec,
    TrainContext,
    TrainerSpec,
)

__all__ = [
    "check_loader",
    "check_metric",
    "check_trainer",
    "local_ray",
    "specs_of",
    "tabular_problem",
    "write_image_folder",
]

# The colour of the square that marks each label after the first (whose images are bluish instead).
_SQUARE_COLOURS = ((230, 40, 40), (40, 200, 60), (240, 220, 40), (200, 40, 200), (40, 210, 220))


def specs_of(plugin: object, hook: str) -> list[ComponentSpec]:
    """The specs a plugin module registers through ``hook`` (e.g. ``"register_trainers"``)."""
    found: list[ComponentSpec] = []
    getattr(plugin, hook)(register=found.append)
    return found


def tabular_problem(n_rows: int = 240, n_classes: int = 3, seed: int = 0) -> tuple[Any, np.ndarray, TrainContext]:
    """A small, learnable problem with numeric and categorical columns and missing values."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    y = np.arange(n_rows) % n_classes
    rng.shuffle(y)
    signal = y + rng.normal(0, 0.6, n_rows)
    frame = pd.DataFrame(
        {
            "x_signal": signal,
            "x_noise": rng.normal(size=n_rows),
            "colour": np.array(["red", "green", "blue", "grey"], dtype=object)[(y + rng.integers(0, 2, n_rows)) % 4],
        }
    )
    frame.loc[rng.random(n_rows) < 0.05, "x_noise"] = np.nan
    frame.loc[rng.random(n_rows) < 0.05, "colour"] = np.nan
    ctx = TrainContext("tabular_classification", n_classes, seed, ("x_signal", "x_noise"), ("colour",))
    return frame, y.astype(np.int64), ctx


def write_image_folder(
    root: Path,
    n: int,
    labels: Sequence[str] = ("class0", "class1"),
    sizes: Sequence[tuple[int, int]] = ((48, 40),),
    seed: int = 0,
) -> tuple[list[str], np.ndarray]:
    """``n`` small, learnable PNGs in ``root/LABEL/`` (the ``image_folder`` layout), written in turn
    for each label and each (width, height) of ``sizes``: noise, bluish for the first label, with a
    centred square of a colour per label for the others. Returns the paths, in the order written,
    and the label indices."""
    from PIL import Image

    if not 1 <= len(labels) <= len(_SQUARE_COLOURS) + 1:
        raise ValueError(f"write_image_folder: 1 to {len(_SQUARE_COLOURS) + 1} labels, got {len(labels)}")
    rng = np.random.default_rng(seed)
    paths, indices = [], []
    for i in range(n):
        label = i % len(labels)
        w, h = sizes[i % len(sizes)]
        pixels = rng.normal(110, 25, (h, w, 3))
        if label:
            pixels[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = _SQUARE_COLOURS[label - 1]
        else:
            pixels[..., 2] += 70
        path = root / labels[label] / f"img{i:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)
        paths.append(str(path))
        indices.append(label)
    return paths, np.asarray(indices, dtype=np.int64)


def _fit_proba(spec: TrainerSpec, config: Any, ctx: TrainContext, X: Any, y: np.ndarray) -> tuple[Any, np.ndarray]:
    assert spec.build is not None, f"trainer '{spec.name}' has no build function"
    estimator = spec.build(config, ctx)
    estimator.fit(X, y)
    return estimator, np.asarray(estimator.predict_proba(X), dtype=float)


def check_trainer(spec: TrainerSpec, n_samples: int = 2) -> None:
    """Fit, predict_proba shape and row sums, classes kept, pickling, determinism by seed, and
    that the default search space samples valid configs."""
    assert isinstance(spec, TrainerSpec), f"{spec!r} is not a TrainerSpec"
    assert dataclasses.is_dataclass(spec.config_cls), f"trainer '{spec.name}': config_cls must be a dataclass"
    for n_classes in (2, 3):
        X, y, ctx = tabular_problem(n_classes=n_classes)
        config = spec.config_cls()
        estimator, proba = _fit_proba(spec, config, ctx, X, y)
        assert proba.shape == (len(X), n_classes), (
            f"trainer '{spec.name}': predict_proba gave shape {proba.shape}, expected {(len(X), n_classes)}"
        )
        assert np.all(proba >= 0) and np.allclose(proba.sum(axis=1), 1.0, atol=1e-6), (
            f"trainer '{spec.name}': probabilities must be non-negative and sum to 1 per row"
        )
        classes = list(np.asarray(getattr(estimator, "classes_", np.arange(n_classes))))
        assert classes == list(range(n_classes)), f"trainer '{spec.name}': classes_ {classes} != 0..{n_classes - 1}"
        assert (proba.argmax(axis=1) == y).mean() > 1.0 / n_classes, (
            f"trainer '{spec.name}': no better than chance on a learnable problem"
        )
        restored = pickle.loads(pickle.dumps(estimator))
        assert np.allclose(restored.predict_proba(X), proba), f"trainer '{spec.name}': pickling changed predictions"
        _, again = _fit_proba(spec, config, ctx, X, y)
        assert np.allclose(again, proba), f"trainer '{spec.name}': same seed, different predictions"
    space = build_space(f"search.space.{spec.name}", spec.config_cls, spec.default_space, {})
    rng = np.random.default_rng(0)
    X, y, ctx = tabular_problem()
    for _ in range(n_samples):
        params = space.sample(rng)
        config = typed_options(spec.config_cls, params, f"search.space.{spec.name}")
        _, proba = _fit_proba(spec, config, ctx, X, y)
        assert proba.shape == (len(X), 3), f"trainer '{spec.name}': sampled config {params} broke predict_proba"


def check_metric(spec: MetricSpec) -> None:
    """Perfect predictions score better than uniform ones, in the metric's own direction."""
    assert isinstance(spec, MetricSpec) and spec.score is not None, f"{spec!r} is not a MetricSpec with score"
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    perfect = np.eye(3)[y] * 0.98 + 0.02 / 3
    uniform = np.full((len(y), 3), 1 / 3)
    good, bad = spec.score(y, perfect), spec.score(y, uniform)
    assert spec.better(good, bad), f"metric '{spec.name}': perfect predictions ({good}) do not beat uniform ({bad})"


def check_loader(spec: LoaderSpec, request: LoadRequest, validate: Callable[[Any], None] | None = None) -> None:
    """The loader reads ``request`` into a frame with one source per row."""
    assert isinstance(spec, LoaderSpec) and spec.load is not None, f"{spec!r} is not a LoaderSpec with load"
    result = spec.load(request)
    assert len(result.frame) == len(result.sources), (
        f"loader '{spec.name}': {len(result.frame)} rows but {len(result.sources)} sources"
    )
    if validate is not None:
        validate(result.frame)


@contextlib.contextmanager
def local_ray(num_cpus: int = 2) -> Iterator[None]:
    """A small local Ray (no dashboard, quiet), for a test module's fixture: start it once per module."""
    import ray

    from automl.search.ray_session import QUIET_ENV

    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()
