"""Augmenters: picklable callables PIL.Image -> PIL.Image that keep size and mode."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from automl_timm import plugin

from automl.plugins.api import ComponentSpec
from automl.testing import specs_of

NAMES = ["flip", "rotate", "crop", "color_jitter", "noise"]


def _specs() -> dict[str, ComponentSpec]:
    return {s.name: s for s in specs_of(plugin, "register_augmenters")}


def _image():
    from PIL import Image

    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (40, 56, 3), dtype=np.uint8))


def test_registers_the_augmenters():
    assert set(_specs()) >= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_augmenter_keeps_size_and_mode(name):
    spec = _specs()[name]
    assert spec.factory is not None
    augment = spec.factory(spec.config_cls(seed=0))
    image = _image()
    for mode in ("RGB", "L"):
        source = image.convert(mode)
        out = augment(source)
        assert out.size == source.size and out.mode == mode


@pytest.mark.parametrize("name", NAMES)
def test_augmenter_is_seeded_and_picklable(name):
    spec = _specs()[name]
    assert spec.factory is not None
    image = _image()
    a, b = spec.factory(spec.config_cls(seed=3)), spec.factory(spec.config_cls(seed=3))
    first = [np.asarray(a(image)) for _ in range(3)]
    assert all(np.array_equal(x, np.asarray(b(image))) for x in first)
    restored = pickle.loads(pickle.dumps(a))
    assert np.array_equal(np.asarray(restored(image)), np.asarray(a(image)))


@pytest.mark.parametrize("name", NAMES)
def test_augmenter_changes_the_image(name):
    spec = _specs()[name]
    assert spec.factory is not None
    augment = spec.factory(spec.config_cls(seed=1))
    image = _image()
    assert any(not np.array_equal(np.asarray(augment(image)), np.asarray(image)) for _ in range(5))
