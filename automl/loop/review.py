"""The review queue for people and for outside tools: export pending items as CSV, import the
labels given to them (all or nothing, every bad row named), list what waits."""

from __future__ import annotations

import csv
import getpass
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
