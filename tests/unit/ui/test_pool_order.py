"""A project's pool after its first model: the page's default order is the samplers' (uncertain
first, diverse), so two near-duplicates never come one after the other at the top."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from automl.loop.sampling import NEAR
from automl.ui.projects import create_project
from automl.ui.queue import ReviewQueue
from automl.ui.training import score_pool

# p(spam) of each text and its embedding: "twin" is a copy of "first" (the same embedding)
POOL = {
    "first": (0.50, [1, 0, 0, 0, 0]),
    "twin": (0.49, [1, 0, 0, 0, 0]),
    "second": (0.40, [0, 1, 0, 0, 0]),
    "third": (0.75, [0, 0, 1, 0, 0]),
    "fourth": (0.90, [0, 0, 0, 1, 0]),
    "sure": (0.02, [0, 0, 0, 0, 1]),
}


class EmbeddingModel:
    classes = ["ham", "spam"]
    meta = SimpleNamespace(version=1)

    def predict_proba_and_embedding(self, inputs: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
        p = np.array([POOL[t][0] for t in inputs])
        return pd.DataFrame({"ham": 1 - p, "spam": p}), np.array([POOL[t][1] for t in inputs], dtype=float)

    def decide(self, proba: np.ndarray) -> np.ndarray:
        return np.argmax(proba, axis=1)


def test_the_pool_comes_uncertain_first_and_diverse(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(POOL) + "\n")
    create_project(workspace, "notes", str(texts), ["ham", "spam"])
    monkeypatch.setattr("automl.model.predictor.load", lambda name, workspace: EmbeddingModel())

    queue = ReviewQueue(workspace, "notes", score_pool(workspace, "notes"))
    shown = [(v["text"], v["reason"]) for v in queue.pending("uncertainty")]
    order = [text for text, _ in shown]
    assert order == ["first", "second", "third", "fourth", "sure", "twin"]  # the twin waits for the rest
    assert dict(shown)["first"] == "low confidence (margin 0.00)"
    assert dict(shown)["twin"] == f"low confidence (margin 0.02); {NEAR}"
    # the other sorts stay as they were: by the margin alone, the twin is second
    assert [v["text"] for v in queue.pending("margin")][:2] == ["first", "twin"]
