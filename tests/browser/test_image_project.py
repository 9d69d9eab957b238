"""Start from nothing with images, in a real browser and a real ``automl ui``: a flat folder of
unlabelled pets photos, labelled with the keyboard by their true class, trained from the page;
then the rest of the pool comes scored by the new model, uncertain first and diverse."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from automl.loop.sampling import NEAR
from automl.testing.local_ui import LocalUi
from tests.browser.conftest import screenshot
from tests.browser.test_review_page import PETS, press, start_project, train_from_the_page

PER_CLASS = 12
LABELLED = 16


def photos(folder: Path) -> dict[str, str]:
    """``PER_CLASS`` dogs and as many other pets, copied flat under neutral names (alternating
    classes), no label anywhere; each file name's true label."""
    if not PETS.is_dir():
        pytest.skip(f"shared datasets not found at {PETS.parent}")
    folder.mkdir()
    classes = {"dog": "DogPresent", "other": "NoDogPresent"}
    picked = {label: sorted((PETS / source).glob("*.jpg"))[:PER_CLASS] for label, source in classes.items()}
    truth = {}
    for i in range(PER_CLASS):
        for j, label in enumerate(classes):
            name = f"photo_{2 * i + j:02d}.jpg"
            shutil.copy(picked[label][i], folder / name)
            truth[name] = label
    return truth


@pytest.mark.slow
def test_start_a_project_from_unlabelled_images_and_train_it_from_the_page(page: Any, tmp_path: Path) -> None:
    truth = photos(tmp_path / "photos")
    with LocalUi.start(tmp_path / "ws", tmp_path / "ui.log") as ui:
        # a backbone's embeddings: the pool can be diverse
        start_project(page, ui, "pets", tmp_path / "photos", "dog, other", "linear_probe")
        page.wait_for_selector("#card:not([hidden]) #image")
        assert page.text_content("#predicted") == "no model yet"
        screenshot(page, "image-project-first-item")
        for _ in range(LABELLED):
            name = page.evaluate("() => window.automlReview.items[0].name")
            press(page, "1" if truth[name] == "dog" else "2")
        train_from_the_page(page, 120_000)
        # The rest of the pool comes scored by the new model, in the samplers' order
        page.wait_for_function("() => document.getElementById('sampler').textContent === 'low_confidence'")
        screenshot(page, "image-project-trained")
        items = page.evaluate("() => window.automlReview.items.map(i => [i.predicted, i.margin, i.reason])")
        assert len(items) == 2 * PER_CLASS - LABELLED
        assert all(predicted in ("dog", "other") for predicted, _, _ in items)
        near = [NEAR in reason for _, _, reason in items]
        assert near == sorted(near)  # an item near one ranked before it waits for all the others
        diverse = [margin for (_, margin, _), pushed in zip(items, near, strict=True) if not pushed]
        assert diverse == sorted(diverse)  # uncertain first (the smallest top-two margin)
        assert page.text_content("#reason").endswith(items[0][2])  # the first on screen
