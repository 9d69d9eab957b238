"""The review page's queue of one model (or project): its labels, its pending items in the order
asked for, and the answers, written as the same annotation records as ``automl review``
(reviewer, ``source`` ``review``, the item's input) so the next ``automl run`` trains on them."""

from __future__ import annotations

import getpass
import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from automl.errors import UserError
from automl.registry.meta import IMAGE_TASK, TEXT_TASK
from automl.registry.store import ModelStore
from automl.store.reviews import PENDING, Annotation, Conflict, QueueItem, ReviewStore
from automl.ui.projects import Project, check_label, load_project, project_names, save_project, with_label

SORTS = ("uncertainty", "margin", "arrival")
MAX_ITEMS = 200


@dataclass(frozen=True)
class Score:
    """What a model says of a pool input (the page's own scoring of a project's pool)."""

    predicted: str
    confidence: float
    margin: float
    sampler: str
    reason: str
    version: int
    rank: int = 0  # its place in the samplers' order of the pool (uncertain first, diverse)


def queue_names(workspace: Path) -> list[str]:
    """Every queue the page can show: projects and registered models."""
    return sorted(set(project_names(workspace)) | set(ModelStore(workspace).names()))


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 4)


class ReviewQueue:
    def __init__(self, workspace: Path, name: str, scores: dict[str, Score] | None = None) -> None:
        self.workspace, self.name = workspace, name
        self.reviews = ReviewStore(workspace)
        self.project = load_project(workspace, name)
        self.scores = scores or {}
        self.listed: dict[str, QueueItem] = {}  # the pending items the last ``pending`` read
        self.classes: list[str] = []
        self.task = self.project.task if self.project else None
        self.version: int | None = None
        store = ModelStore(workspace)
        if name in store.names() and store.versions(name):
            _, self.version = store.resolve(name)
            meta = store.meta(name, self.version)
            self.classes, self.task = list(meta.classes), meta.task
        if self.project is None and self.version is None:
            raise UserError(f"no model or project called {name} in {workspace}.")

    @property
    def labels(self) -> list[str]:
        """The project's labels in the order they were named (their keys stay put after a
        training), then the model's classes it does not name."""
        own = self.project.labels if self.project else []
        return list(dict.fromkeys([*own, *self.classes]))

    def add_label(self, label: str) -> list[str]:
        if self.project is None:
            self.project = Project(self.name, self.task or TEXT_TASK, list(self.classes))
            save_project(self.workspace, self.project)
        self.project = with_label(self.workspace, self.project, label)
        return self.labels

    def counts(self) -> dict[str, int]:
        items = self.reviews.items(self.name, status=None)
        return {s: sum(i.status == s for i in items) for s in ("pending", "reviewed", "skipped")}

    def view(self, item: QueueItem, margins: dict[str, float]) -> dict[str, Any]:
        score = self.scores.get(item.content_id) if item.version == 0 else None
        value = json.loads(item.input_json) if item.input_json else None
        image = bool(item.input_blob) or (self.task == IMAGE_TASK and item.version == 0)
        text = None if image else (value if isinstance(value, str) else json.dumps(value, indent=1, sort_keys=True))
        return {
            "id": item.item_id,
            "content_id": item.content_id,
            "kind": "image" if image else "text",
            "text": text,
            "src": f"/api/input/{self.name}/{item.item_id}" if image else None,
            "name": Path(value).name if image and isinstance(value, str) else None,
            "predicted": score.predicted if score else (item.predicted or None),
            "confidence": _number(score.confidence if score else item.confidence),
            "margin": _number(score.margin if score else margins.get(item.item_id)),
            "sampler": score.sampler if score else item.sampler,
            "reason": score.reason if score else item.reason,
            "version": score.version if score else item.version,
            "arrived": item.sampled_at.isoformat(),
        }

    def pending(self, sort: str = "uncertainty", limit: int = 50) -> list[dict[str, Any]]:
        if sort not in SORTS:
            raise UserError(f"sort={sort}: use one of {', '.join(SORTS)}.")
        items = self.reviews.items(self.name, PENDING)  # arrival order
        self.listed = {i.item_id: i for i in items}
        margins = _invoke_margins(self.workspace, items) if sort == "margin" else {}
        views = [self.view(i, margins) for i in items]
        if sort == "uncertainty":  # the scored pool in the samplers' order, then the rest by confidence
            ranks = {i.item_id: s.rank for i in items if i.version == 0 and (s := self.scores.get(i.content_id))}
            views.sort(key=lambda v: (v["id"] not in ranks, ranks.get(v["id"], 0), *_low_first(v["confidence"])))
        elif sort == "margin":
            views.sort(key=lambda v: _low_first(v["margin"]))
        return views[: max(1, min(limit, MAX_ITEMS))]

    def item(self, item_id: str) -> QueueItem:
        for item in self.reviews.items(self.name, status=None):
            if item.item_id == item_id:
                return item
        raise UserError(f"no item {item_id!r} in the review queue of {self.name}.")

    def answer(self, answers: list[tuple[str, str | None]], reviewer: str | None = None) -> list[Annotation]:
        """Save ``(item id, label)`` answers in order, all in one transaction or none; a label of
        None discards the item (out of the queue without a label: ``skipped``, as ``automl
        review next``'s ``s``). A page sends the answers given while the last were on their way
        together; a later answer for an item in the same batch replaces the earlier one. An item
        answered meanwhile (another tab, ``automl review``) is a :class:`Conflict`: the store
        checks and writes in one transaction."""
        queue = {i.item_id: i for i in self.reviews.items(self.name, status=None)}
        labels, who = self.labels, reviewer or getpass.getuser()
        at = datetime.now(timezone.utc).replace(tzinfo=None)
        notes, discarded = [], []
        for item_id, given in dict(answers).items():  # the last answer of each item, in first-given order
            item = queue.get(item_id)
            if item is None:
                raise UserError(f"no item {item_id!r} in the review queue of {self.name}.")
            if item.status != PENDING:
                raise Conflict(f"item {item_id} is already answered; undo it first.")
            if given is None:
                discarded.append(item_id)
                continue
            label = check_label(given)
            if label not in labels:
                raise UserError(f"label {label!r} is not one of {self.name}'s labels; add it first.")
            notes.append(Annotation(item.content_id, self.name, label, who, at, "review", item.item_id,
                                    item.input_json, item.input_blob))  # fmt: skip
        self.reviews.annotate(notes, skipped=discarded, pending=True)
        return notes

    def undo(self, item_id: str) -> None:
        self.item(item_id)  # an unknown item: a UserError
        if not self.reviews.undo(item_id):
            raise Conflict(f"item {item_id} is pending: nothing to undo.")


def _low_first(value: float | None) -> tuple[bool, float]:
    return value is None, value if value is not None else 0.0


def _invoke_margins(workspace: Path, items: list[QueueItem]) -> dict[str, float]:
    """Top-1 minus top-2 probability of sampled invokes, from the invoke log's scores."""
    ids = {i.invoke_id: i.item_id for i in items if i.invoke_id}
    if not ids:
        return {}
    from automl.store.invokes import query_invokes

    try:
        rows = query_invokes(
            workspace,
            f"SELECT invoke_id, scores FROM invokes WHERE invoke_id IN ({', '.join('?' * len(ids))})",
            list(ids),
        )
    except UserError:
        return {}
    margins = {}
    for invoke_id, scores in zip(rows["invoke_id"], rows["scores"], strict=True):
        ranked = sorted(json.loads(scores).values(), reverse=True) if isinstance(scores, str) else []
        if ranked:
            margins[ids[invoke_id]] = ranked[0] - (ranked[1] if len(ranked) > 1 else 0.0)
    return margins
