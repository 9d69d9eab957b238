"""The invariance tests' perturbations: deterministic given the seed, and changing what they say."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from automl.model.perturb import add_noise, column_stds, crop, flip, numeric_columns, typos

TEXT = "WINNER you have been selected to claim a free prize, call now"


def _one_edit(before: str, after: str) -> bool:
    """``after`` is ``before`` with two adjacent letters swapped, one dropped or one doubled."""
    if len(after) == len(before) - 1:
        return any(before[:i] + before[i + 1 :] == after for i in range(len(before)))
    if len(after) == len(before) + 1:
        return any(before[:i] + before[i] + before[i:] == after for i in range(len(before)))
    swaps = {before[:i] + before[i + 1] + before[i] + before[i + 2 :] for i in range(len(before) - 1)}
    return len(after) == len(before) and after != before and after in swaps


def test_typos_are_deterministic_given_the_seed() -> None:
    first = typos(TEXT, 0.3, np.random.default_rng(7))
    assert first == typos(TEXT, 0.3, np.random.default_rng(7))
    assert first != TEXT
    others = {typos(TEXT, 0.3, np.random.default_rng(seed)) for seed in range(10)}
    assert len(others) > 5


@pytest.mark.parametrize(("strength", "changed"), [(0.0, 1), (0.01, 1), (0.25, 3), (0.5, 6), (1.0, 12)])
def test_typos_change_a_share_of_the_words_by_one_edit_each(strength: float, changed: int) -> None:
    out = typos(TEXT, strength, np.random.default_rng(0))
    before, after = TEXT.split(" "), out.split(" ")
    assert len(after) == len(before)  # the whitespace is kept
    edits = [(b, a) for b, a in zip(before, after, strict=True) if a != b]
    assert len(edits) == changed
    assert all(_one_edit(b, a) for b, a in edits), edits


def test_typos_keep_whitespace_and_leave_texts_without_letters_alone() -> None:
    out = typos("free\n\tprize  now", 1.0, np.random.default_rng(1))
    assert re.findall(r"\s+", out) == ["\n\t", "  "]
    assert typos("123 456 !!", 0.5, np.random.default_rng(0)) == "123 456 !!"
    assert typos("", 0.5, np.random.default_rng(0)) == ""
    assert typos("a", 1.0, np.random.default_rng(0)) == "aa"  # one letter: only doubling is a typo


def _gradient(width: int = 40, height: int = 30) -> Image.Image:
    x = np.tile(np.arange(width, dtype=np.uint8) * 6, (height, 1))
    y = np.tile((np.arange(height, dtype=np.uint8) * 8)[:, None], (1, width))
    return Image.fromarray(np.stack([x, y, np.zeros_like(x)], axis=2), "RGB")


def test_flip_mirrors_left_and_right_and_keeps_the_size() -> None:
    image = _gradient()
    flipped = flip(image)
    assert flipped.size == image.size
    assert np.array_equal(np.asarray(flipped), np.asarray(image)[:, ::-1])


@pytest.mark.parametrize("strength", [0.1, 0.25, 0.5])
def test_crop_cuts_each_side_and_resizes_back(strength: float) -> None:
    image = _gradient()
    cropped = crop(image, strength)
    assert cropped.size == image.size and cropped.mode == "RGB"
    red = np.asarray(cropped)[:, :, 0].astype(int)
    # the left edge now shows what was `strength` of the width in: about 40 * strength * 6
    assert red[:, 0].mean() == pytest.approx(min(round(40 * strength), 19) * 6, abs=6)
    assert red[:, -1].mean() < np.asarray(image)[:, -1, 0].mean()


def test_crop_by_nothing_is_the_image() -> None:
    image = _gradient()
    assert np.array_equal(np.asarray(crop(image, 0.0)), np.asarray(image))


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, 2000),
            "income": rng.normal(1000, 100, 2000),
            "city": rng.choice(["paris", "rome"], 2000),
            "member": rng.choice([True, False], 2000),
        }
    )
    frame.loc[3, "age"] = np.nan
    return frame


def test_numeric_columns_leave_out_categories_and_booleans() -> None:
    assert numeric_columns(_frame()) == ["age", "income"]


def test_noise_scales_with_each_columns_std_and_touches_nothing_else() -> None:
    frame = _frame()
    stds = column_stds(frame, ["age"])
    assert stds["age"] == pytest.approx(10, rel=0.1)
    noisy = add_noise(frame, stds, 0.5, np.random.default_rng(3))
    delta = (noisy["age"] - frame["age"]).dropna()
    assert delta.std() == pytest.approx(0.5 * stds["age"], rel=0.1)
    assert np.isnan(noisy.loc[3, "age"])
    for column in ("income", "city", "member"):
        assert noisy[column].equals(frame[column])
    assert frame["age"].notna().sum() == 1999  # the input is not changed
    again = add_noise(frame, stds, 0.5, np.random.default_rng(3))
    assert again.equals(noisy)
    assert not add_noise(frame, stds, 0.5, np.random.default_rng(4)).equals(noisy)


def test_a_constant_column_gets_no_noise() -> None:
    frame = pd.DataFrame({"x": [2.0, 2.0, 2.0], "y": [1.0, 2.0, 3.0]})
    noisy = add_noise(frame, column_stds(frame, ["x"]), 0.5, np.random.default_rng(0))
    assert noisy["x"].tolist() == [2.0, 2.0, 2.0]
