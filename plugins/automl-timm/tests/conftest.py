"""Small images made on the fly; no test reaches the network."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from automl.testing import write_image_folder


def write_images(folder: Path, n: int, size: tuple[int, int] = (48, 40), seed: int = 0) -> tuple[list[str], np.ndarray]:
    """``n`` PNG files of one size and two classes: 0 is bluish noise, 1 has a red square. Returns
    paths and labels."""
    return write_image_folder(folder, n, sizes=(size,), seed=seed)


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
