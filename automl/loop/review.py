"""The review queue for people and for outside tools: export pending items as CSV, import the
labels given to them (all or nothing, every bad row named), or label them one by one in the
terminal (``review_next``)."""

from __future__ import annotations

import csv
import getpass
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from automl.errors import UserError
from automl.registry.refs import ModelRef
from automl.registry.store import ModelStore
from automl.store.invokes import InvokePaths
from automl.store.invokes.blobs import blob_path
from automl.store.reviews import PENDING, Annotation, QueueItem, ReviewStore

EXPORT_COLUMNS = ["item_id", "content_id", "sampler", "reason", "predicted", "confidence", "input", "label"]


def model_classes(workspace: Path, ref: str) -> tuple[str, list[str]]:
    store = ModelStore(workspace)
    name, version = store.resolve(ModelRef.parse(ref))
    return name, list(store.meta(name, version).classes)


def item_input(workspace: Path, item: QueueItem) -> str:
    """What a reviewer looks at: the text, the tabular row (JSON), or the image file's path."""
    if item.input_blob:
        return str(blob_path(InvokePaths(workspace).blobs, item.input_blob))
    import json

    value = json.loads(item.input_json) if item.input_json else ""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def export_queue(workspace: Path, ref: str, output: Path) -> int:
    name, _ = model_classes(workspace, ref)
    items = ReviewStore(workspace).items(name, PENDING)
    from automl.durable import atomic_path

    with atomic_path(output) as tmp, tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(EXPORT_COLUMNS)
        for i in items:
            row = [i.item_id, i.content_id, i.sampler, i.reason, i.predicted, f"{i.confidence:.4f}"]
            writer.writerow([*row, item_input(workspace, i), ""])
    return len(items)


@dataclass(frozen=True)
class Imported:
    model: str
    labelled: int
    left_empty: int
    changed: int  # labels that differ from the model's prediction
    new_labels: list[str]


def import_labels(workspace: Path, ref: str, source: Path, new_labels: bool, reviewer: str | None = None) -> Imported:
    """The labels of ``source`` (columns ``item_id`` and ``label``; others are ignored) for the
    model's queue items; an empty label leaves the item pending. Any bad row stops the import
    before anything is saved, with its line number."""
    name, classes = model_classes(workspace, ref)
    reviews = ReviewStore(workspace)
    queue = {i.item_id: i for i in reviews.items(name, status=None)}
    try:
        with source.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
            columns = rows[0].keys() if rows else []
    except FileNotFoundError:
        raise UserError(f"input={source}: no such file.") from None
    except (UnicodeDecodeError, csv.Error) as err:
        raise UserError(f"input={source}: not a UTF-8 CSV file ({err}).") from None
    missing = [c for c in ("item_id", "label") if c not in columns]
    if rows and missing:
        raise UserError(f"input={source}: no column {', '.join(missing)} (export one with automl review export).")
    annotations: list[Annotation] = []
    seen: dict[str, int] = {}
    added: list[str] = []
    at = datetime.now(timezone.utc).replace(tzinfo=None)
    who = reviewer or getpass.getuser()
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        item_id, label = (row.get("item_id") or "").strip(), (row.get("label") or "").strip()
        if item_id in seen:
            raise UserError(f"{source}, line {line}: item {item_id} appears again (first on line {seen[item_id]}).")
        seen[item_id] = line
        item = queue.get(item_id)
        if item is None:
            raise UserError(f"{source}, line {line}: unknown item id {item_id!r} (not in the review queue of {name}).")
        if not label:
            continue
        if label not in classes and label not in added:
            if not new_labels:
                raise UserError(
                    f"{source}, line {line}: label {label!r} is not one of {name}'s classes ({', '.join(classes)}); "
                    "add new_labels=true to teach the model a new label."
                )
            added.append(label)
        annotations.append(
            Annotation(item.content_id, name, label, who, at, "import", item_id, item.input_json, item.input_blob)
        )
    reviews.annotate(annotations)
    changed = sum(a.label != queue[a.item_id].predicted for a in annotations if a.item_id)
    return Imported(name, len(annotations), len(rows) - len(annotations), changed, added)


def describe(workspace: Path, item: QueueItem) -> str:
    """What the terminal review shows of an item's input."""
    shown = item_input(workspace, item)
    if item.input_blob:
        try:
            from PIL import Image

            with Image.open(shown) as image:
                return f"image {shown} ({image.width} x {image.height})"
        except OSError:
            return f"image {shown} (cannot be opened)"
    return shown


def review_next(
    workspace: Path, ref: str, read: Callable[[str], str], write: Callable[[str], None], reviewer: str | None = None
) -> tuple[int, int]:
    """Label pending items one by one: a key per label, ``s`` skip, ``u`` undo the last answer,
    ``q`` (or the end of input) quit. Every answer is saved at once. Returns (labelled, skipped)."""
    name, classes = model_classes(workspace, ref)
    reviews = ReviewStore(workspace)
    keys = {str(i + 1) if i < 9 else chr(ord("a") + i - 9): c for i, c in enumerate(classes)}
    menu = "  ".join(f"[{k}] {c}" for k, c in keys.items()) + "  [s] skip  [u] undo  [q] quit"
    who = reviewer or getpass.getuser()
    history: list[tuple[str, bool]] = []  # item id, labelled
    labelled = skipped = 0
    while True:
        pending = reviews.items(name)
        if not pending:
            write(f"no pending items for {name}")
            return labelled, skipped
        item = pending[0]
        write(f"\n{item.item_id} ({item.reason}; {len(pending)} pending)\n{describe(workspace, item)}")
        write(f"model: {item.predicted} ({item.confidence:.2f})\n{menu}")
        try:
            answer = read("> ").strip().lower()
        except EOFError:
            answer = "q"
        if answer == "q":
            return labelled, skipped
        if answer == "u":
            if not history:
                write("nothing to undo")
                continue
            last, was_label = history.pop()
            reviews.undo(last)
            labelled, skipped = labelled - was_label, skipped - (not was_label)
            write(f"undone: {last} is pending again")
        elif answer == "s":
            reviews.annotate([], skipped=[item.item_id])
            history.append((item.item_id, False))
            skipped += 1
        elif answer in keys:
            at = datetime.now(timezone.utc).replace(tzinfo=None)
            note = Annotation(item.content_id, name, keys[answer], who, at, "review", item.item_id,
                              item.input_json, item.input_blob)  # fmt: skip
            reviews.annotate([note])
            history.append((item.item_id, True))
            labelled += 1
        else:
            write(f"'{answer}': press one of {', '.join([*keys, 's', 'u', 'q'])}")
