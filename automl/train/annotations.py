"""Reviewed labels back into training: the annotations of the recipe's model (the review store)
on top of the loaded examples.

An annotation of an example already in the data overrides its label; one of an invoke that is not
becomes a new example, its input taken from the invoke (a tabular row, a text, or the image file
the invoke store keeps). Both keep their provenance (``source`` ``review:<item>``), and the table
counts them for the run's summary. A label the model has never seen is a new class, unless the
recipe pins ``data.labels`` without it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd

from automl.config.schema import Recipe
from automl.data.table import ExampleTable, check_classes
from automl.errors import UserError
from automl.store.invokes import InvokePaths
from automl.store.invokes.blobs import blob_path
from automl.store.reviews import Annotation, ReviewStore

TABULAR = "tabular_classification"


def _row(note: Annotation, task: str, workspace: Path, columns: list[str]) -> dict[str, object] | None:
    """The example's features from the invoke's input; None when the input is gone (gc)."""
    if note.input_blob:
        path = blob_path(InvokePaths(workspace).blobs, note.input_blob)
        return {"input": str(path)} if path.is_file() else None
    if note.input_json is None:
        return None
    value = json.loads(note.input_json)
    if task == TABULAR:
        return {c: value.get(c) for c in columns} if isinstance(value, dict) else None
    return {"input": value}


def with_annotations(table: ExampleTable, recipe: Recipe, workspace: Path) -> ExampleTable:
    reviews = ReviewStore(workspace)
    if not reviews.path.exists():
        return table
    notes = reviews.annotations(recipe.name)
    if not notes:
        return table
    index = {cid: i for i, cid in enumerate(table.ids)}
    labels = table.labels.astype(object).copy()
    relabelled = 0
    rows: list[dict[str, object]] = []
    added: list[Annotation] = []
    columns = [str(c) for c in table.features.columns]
    for note in notes:
        if note.content_id in index:
            i = index[note.content_id]
            relabelled += labels[i] != note.label
            labels[i] = note.label
            continue
        row = _row(note, recipe.task.type, workspace, columns)
        if row is not None:
            rows.append(row)
            added.append(note)
    all_labels = np.concatenate([labels, np.asarray([a.label for a in added], dtype=object)]).astype(str)
    unknown = sorted(set(all_labels) - set(recipe.data.labels)) if recipe.data.labels is not None else []
    if unknown:
        raise UserError(
            f"reviews of {recipe.name} use label(s) {', '.join(unknown)}, which data.labels leaves out; "
            "add them to data.labels (or leave data.labels out) to train on them."
        )
    classes = list(recipe.data.labels) if recipe.data.labels is not None else sorted(set(all_labels.tolist()))
    check_classes(all_labels, classes, recipe.data.target or "label", recipe.eval.cv_folds)
    features = (
        pd.concat([table.features, pd.DataFrame(rows, columns=columns)], ignore_index=True) if rows else table.features
    )
    return dataclasses.replace(
        table,
        features=features,
        labels=all_labels,
        ids=np.concatenate([table.ids, np.asarray([a.content_id for a in added], dtype=object)]),
        sources=np.concatenate([table.sources, np.asarray([f"review:{a.item_id}" for a in added], dtype=object)]),
        classes=classes,
        from_reviews=len(added),
        relabelled=int(relabelled),
    )
