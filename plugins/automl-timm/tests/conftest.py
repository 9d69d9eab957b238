"""Small images made on the fly; no test reaches the network."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest


def write_images(folder: Path, n: int, size: tuple[int, int] = (48, 40), seed: int = 0) -> tuple[list[str], np.ndarray]:
    """``n`` PNG files of two classes: 0 is bluish noise, 1 has a red square. Returns paths and labels."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths, labels = [], []
    w, h = size
    for i in range(n):
        label = i % 2
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


@pytest.fixture
def make_images() -> Callable[..., tuple[list[str], np.ndarray]]:
    """``write_images`` as a fixture (test modules are imported by path, not as a package)."""
    return write_images


@pytest.fixture
def images(tmp_path: Path) -> list[str]:
    return write_images(tmp_path / "images", 6)[0]


@pytest.fixture(autouse=True)
def _no_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs offline: the hub is never contacted."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
