"""Perturbations for the invariance tests of ``eval.tests``: small changes a model's label should
survive. Each is a pure function; the random ones draw from the numpy ``Generator`` they are
given, so a seed fixes what they change.

- ``typos`` (texts): in a share of the words (at least one), swap two adjacent letters, drop a
  letter or duplicate one.
- ``flip`` (images): the horizontal mirror.
- ``crop`` (images): a share of each side cut off, the rest resized back to the original size.
- ``add_noise`` (tables): Gaussian noise on numeric columns, its standard deviation a share of
  each column's (``column_stds`` measures those over the whole table).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

_SPACE = re.compile(r"(\s+)")
SWAP, DROP, DUPLICATE = "swap", "drop", "duplicate"


def _typo(word: str, rng: np.random.Generator) -> str:
    """One typo in ``word``: two adjacent, different letters swapped, a letter dropped (words of
    two letters or more) or a letter doubled."""
    letters = [i for i, ch in enumerate(word) if ch.isalpha()]
    pairs = [i for i in letters if i + 1 < len(word) and word[i + 1].isalpha() and word[i] != word[i + 1]]
    kinds = [k for k, ok in ((SWAP, bool(pairs)), (DROP, len(letters) >= 2), (DUPLICATE, True)) if ok]
    kind = kinds[int(rng.integers(len(kinds)))]
    if kind == SWAP:
        i = pairs[int(rng.integers(len(pairs)))]
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    i = letters[int(rng.integers(len(letters)))]
    return word[:i] + word[i + 1 :] if kind == DROP else word[:i] + word[i] + word[i:]


def typos(text: str, strength: float, rng: np.random.Generator) -> str:
    """``text`` with a typo in ``round(strength x words)`` of its words (at least one); words are
    the runs between whitespace that hold a letter, and the whitespace is kept as it was. A text
    without a letter comes back unchanged."""
    parts = _SPACE.split(text)
    words = [i for i, part in enumerate(parts) if any(ch.isalpha() for ch in part)]
    if not words:
        return text
    k = min(len(words), max(1, round(strength * len(words))))
    for i in sorted(rng.choice(len(words), size=k, replace=False).tolist()):
        parts[words[i]] = _typo(parts[words[i]], rng)
    return "".join(parts)


def flip(image: Any) -> Any:
    """The horizontal mirror of a PIL image."""
    from PIL import Image

    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def crop(image: Any, strength: float) -> Any:
    """A PIL image with ``strength`` of its width cut from the left and the right and of its height
    from the top and the bottom (at least one pixel is kept), resized back to its size."""
    from PIL import Image

    width, height = image.size
    dx = min(round(width * strength), (width - 1) // 2)
    dy = min(round(height * strength), (height - 1) // 2)
    if dx == 0 and dy == 0:
        return image.copy()
    box = (dx, dy, width - dx, height - dy)
    return image.crop(box).resize((width, height), Image.Resampling.BILINEAR)


def numeric_columns(frame: pd.DataFrame) -> list[str]:
    """The frame's numeric columns (booleans are categories here), in order."""
    import pandas as pd

    return [
        str(c)
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    ]


def column_stds(frame: pd.DataFrame, columns: Sequence[str]) -> dict[str, float]:
    """Each column's standard deviation over ``frame`` (missing values skipped; 0 when it has
    fewer than two values)."""
    stds = {}
    for c in columns:
        std = frame[c].astype("float64").std()
        stds[c] = float(std) if np.isfinite(std) else 0.0
    return stds


def add_noise(rows: pd.DataFrame, stds: Mapping[str, float], strength: float, rng: np.random.Generator) -> pd.DataFrame:
    """A copy of ``rows`` with Gaussian noise of standard deviation ``strength x stds[c]`` added
    to each column ``c`` of ``stds``; other columns and missing values are left as they are."""
    out = rows.copy()
    for c, std in stds.items():
        values = out[c].astype("float64").to_numpy()
        out[c] = values + rng.normal(0.0, strength * std, size=len(values))
    return out
