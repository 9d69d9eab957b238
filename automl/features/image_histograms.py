"""Classic image features that need no learned weights: per-channel colour histograms and a
histogram of gradient orientations on a 4x4 grid (a coarse HOG), from Pillow-decoded pixels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from automl.data.images import open_rgb

SIZE = 64
GRID = 4
ORIENTATIONS = 9


def _one(path: str, bins: int) -> np.ndarray:
    img = open_rgb(path).resize((SIZE, SIZE))
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


def histogram_features(paths: Sequence[str], bins: int = 16) -> np.ndarray:
    """One feature row per image path (the rows of a 1-d object array of paths)."""
    return np.stack([_one(str(p), bins) for p in np.asarray(paths, dtype=object).ravel()])
