"""The review page's answers and reads: a batch with two answers for one item, two writers of one
item, the margin sort's one read of the invoke log, an image found without reading the queue, and
the confidence shown for a model with a tuned threshold."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest

from automl.store.reviews import Conflict, ReviewStore
from automl.ui.projects import Project, create_project
from automl.ui.queue import ReviewQueue
from tests.unit.ui.test_ui_app import SCRIPT, _queued, auth, client, image_project, pending


@pytest.fixture
def project(workspace: Path, tmp_path: Path) -> Project:
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(f"message number {i}" for i in range(6)) + "\n")
    return create_project(workspace, "notes", str(texts), ["ham", SCRIPT])


def rows(workspace: Path) -> list[tuple[str, str]]:
    """Every annotation row (not only the newest of each content)."""
    with duckdb.connect(str(ReviewStore(workspace).path), read_only=True) as con:
        return [(r[0], r[1]) for r in con.execute("SELECT item_id, label FROM annotations ORDER BY item_id").fetchall()]


def test_a_later_answer_for_an_item_in_one_batch_replaces_the_earlier(workspace: Path, project: Project) -> None:
    """Answer X, undo it while it waits in the page, answer X again: the batch holds X twice."""
    c, _ = client(workspace)
    x, y = (i["id"] for i in pending(c)[:2])
    body = {"model": "notes", "answers": [{"item_id": x, "label": "ham"}, {"item_id": y, "label": "ham"},
                                          {"item_id": x, "label": SCRIPT}]}  # fmt: skip
    saved = c.post("/api/answer", json=body, headers=auth())
    assert saved.status_code == 200, saved.text
    assert saved.json()["labelled"] == 2
    assert sorted(rows(workspace)) == sorted([(x, SCRIPT), (y, "ham")])


def test_two_writers_of_one_item_cannot_both_save_it(
    workspace: Path, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two tabs (or the page and ``automl review``) both read X as pending, then both answer it:
    the second must be refused, and its whole batch with it."""
    first = ReviewQueue(workspace, "notes")
    x, y = (i.item_id for i in first.reviews.items("notes")[:2])
    stale = first.reviews.items("notes", status=None)  # what the second writer read before the first wrote
    first.answer([(x, "ham")])
    second = ReviewQueue(workspace, "notes")
    monkeypatch.setattr(second.reviews, "items", lambda *args, **kwargs: stale)
    with pytest.raises(Conflict):
        second.answer([(y, "ham"), (x, SCRIPT)])
    with pytest.raises(Conflict):
        second.answer([(x, None)])  # a discard too
    assert rows(workspace) == [(x, "ham")]
    assert [i.item_id for i in ReviewStore(workspace).items("notes")][0] == y  # y is still pending
    c, _ = client(workspace)
    assert c.post("/api/undo", json={"model": "notes", "item_id": x}, headers=auth()).status_code == 200
    again = c.post("/api/undo", json={"model": "notes", "item_id": x}, headers=auth())
    assert again.status_code == 409 and rows(workspace) == []


def test_the_margin_sort_reads_the_invoke_log_once(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _queued(workspace, [0.9, 0.55, 0.7, 0.6, 0.8], [])
    calls = []
    monkeypatch.setattr("automl.ui.queue._invoke_margins", lambda ws, items: calls.append(len(items)) or {})
    c, _ = client(workspace)
    assert len(pending(c, "margin", "spam")) == 5
    assert calls == [5]


def test_an_image_listed_by_the_queue_is_served_without_reading_the_queue(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image_project(workspace, tmp_path)
    c, _ = client(workspace)
    items = pending(c, model="pets")
    reads = []
    real = ReviewStore.items

    def counted(self: ReviewStore, *args: Any, **kwargs: Any) -> Any:
        reads.append(args)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ReviewStore, "items", counted)
    for item in items:
        assert c.get(item["src"]).headers["content-type"] == "image/png"
    assert reads == []


class ThresholdModel:
    """A binary model whose tuned threshold says spam from p(spam) >= 0.3."""

    classes = ["ham", "spam"]
    meta = SimpleNamespace(version=1)

    def __init__(self, p_spam: dict[str, float]) -> None:
        self.p_spam = p_spam

    def predict_proba(self, inputs: list[str]) -> pd.DataFrame:
        p = np.array([self.p_spam[t] for t in inputs])
        return pd.DataFrame({"ham": 1 - p, "spam": p})

    def predict_proba_and_embedding(self, inputs: list[str]) -> tuple[pd.DataFrame, None]:
        return self.predict_proba(inputs), None

    def decide(self, proba: np.ndarray) -> np.ndarray:
        return (proba[:, 1] >= 0.3).astype(int)

    def labels(self, proba: np.ndarray) -> np.ndarray:
        return np.asarray(self.classes, dtype=object)[self.decide(proba)]


def test_a_pool_item_shows_the_confidence_of_the_label_it_shows(
    workspace: Path, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from automl.ui.training import score_pool

    p_spam = {f"message number {i}": p for i, p in enumerate([0.35, 0.9, 0.1, 0.29, 0.5, 0.6])}
    monkeypatch.setattr("automl.model.predictor.load", lambda name, workspace: ThresholdModel(p_spam))
    scores = score_pool(workspace, "notes")
    texts = {i.content_id: i.input_json for i in ReviewStore(workspace).items("notes")}
    shown = {texts[c].strip('"'): (s.predicted, round(s.confidence, 2)) for c, s in scores.items()}  # type: ignore[union-attr]
    assert shown["message number 0"] == ("spam", 0.35)  # not "spam, 65% sure"
    assert shown["message number 3"] == ("ham", 0.71)
    assert shown["message number 1"] == ("spam", 0.9)
