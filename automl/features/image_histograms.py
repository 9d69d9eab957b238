"""Classic image features that need no learned weights: per-channel colour histograms and a
histogram of gradient orientations on a 4x4 grid (a coarse HOG), from Pillow-decoded pixels.

Decoding dominates their cost, and every fold and trial of a search asks for the same images
again: the rows are memoised per process, keyed by the file's path, size and modification time.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from automl.data.images import as_rgb

SIZE = 64
GRID = 4
ORIENTATIONS = 9


def _one(image: Any, bins: int) -> np.ndarray:
    img = as_rgb(image).resize((SIZE, SIZE))
    rgb = np.asarray(img, dtype=np.float32) / 255.0
    colour = [np.histogram(rgb[..., c], bins=bins, range=(0, 1), density=True)[0] for c in range(3)]
    gray = rgb.mean(axis=2)
    gy, gx = np.gradient(gray)
    magnitude = np.hypot(gx, gy)
    angle = np.mod(np.arctan2(gy, gx), np.pi)
    cell = SIZE // GRID
    hog = []
    for i in range(GRID):
        for j in range(GRID):
            block = (slice(i * cell, (i + 1) * cell), slice(j * cell, (j + 1) * cell))
            h, _ = np.histogram(angle[block], bins=ORIENTATIONS, range=(0, np.pi), weights=magnitude[block])
            hog.append(h / (np.linalg.norm(h) + 1e-6))
    return np.concatenate([*colour, *hog]).astype(np.float32)


@lru_cache(maxsize=50_000)
def _memo(path: str, bins: int, size: int, mtime_ns: int) -> np.ndarray:
    row = _one(path, bins)
    row.setflags(write=False)
    return row


def _row(image: Any, bins: int) -> np.ndarray:
    if not isinstance(image, str | os.PathLike):  # a decoded image (the server's): nothing to key on
        return _one(image, bins)
    stat = os.stat(image)
    return _memo(str(image), bins, stat.st_size, stat.st_mtime_ns)


def histogram_features(images: Sequence[Any], bins: int = 16) -> np.ndarray:
    """One feature row per image: a file path or a PIL image (the rows of a 1-d object array)."""
    items = images.ravel() if isinstance(images, np.ndarray) else images
    return np.stack([_row(item, bins) for item in items])
