"""The Example table: what a loader's raw rows become once labels and bad rows are settled."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from automl.config.schema import DataConfig
from automl.data.content_id import dataset_hash, row_content_id
from automl.errors import UserError, did_you_mean
from automl.plugins.components import LoadResult

if TYPE_CHECKING:
    import pandas as pd


PROBA_PREFIX = "proba_"
"""Column prefix of a class's probability in every file automl writes (oof.parquet, predictions)."""


@dataclass(frozen=True)
class BadRow:
    source: str
    reason: str


@dataclass
class ExampleTable:
    """Inputs, labels, content ids and sources, row-aligned; ``classes`` in label order."""

    features: pd.DataFrame
    labels: np.ndarray
    ids: np.ndarray
    sources: np.ndarray
    classes: list[str]
    skipped: list[BadRow] = field(default_factory=list)
    from_reviews: int = 0  # examples added from reviewed invokes
    relabelled: int = 0  # examples whose label a review changed

    @property
    def y(self) -> np.ndarray:
        """Labels as class indices into ``classes``."""
        index = {c: i for i, c in enumerate(self.classes)}
        return np.array([index[label] for label in self.labels], dtype=np.int64)

    @property
    def content_hash(self) -> str:
        return dataset_hash(self.ids, self.labels)

    def __len__(self) -> int:
        return len(self.labels)


def _label_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _feature_columns(frame: pd.DataFrame, data: DataConfig, target: str) -> list[str]:
    columns = [str(c) for c in frame.columns]
    for key, names in (("data.features", data.features or []), ("data.drop", data.drop)):
        for name in names:
            if name not in columns:
                raise UserError(
                    f"{key}: no column '{name}' in the data{did_you_mean(name, columns)}. "
                    f"Columns: {', '.join(columns)}."
                )
    chosen = list(data.features) if data.features else [c for c in columns if c != target]
    chosen = [c for c in chosen if c not in set(data.drop) and c != target]
    if not chosen:
        raise UserError("data: no feature columns are left after data.features and data.drop.")
    return chosen


def build_table(result: LoadResult, data: DataConfig, min_per_class: int) -> ExampleTable:
    """Settle labels and bad rows of a load; errors say what to fix.

    A tabular load has the recipe's columns; an image or text load (with ``content_ids``) has the
    columns ``input`` and ``label``, and its features are the ``input`` column.
    """
    frame = result.frame
    raw = result.content_ids is not None
    target = "label" if raw else (data.target or "")
    columns = [str(c) for c in frame.columns]
    if target not in columns:
        raise UserError(
            f"data.target: no column '{target}' in the data{did_you_mean(target, columns)}. "
            f"Columns: {', '.join(columns)}."
        )
    features = ["input"] if raw else _feature_columns(frame, data, target)
    sources = np.asarray(result.sources, dtype=object)
    bad = [BadRow(str(s), r) for s, r in result.bad_rows]
    label_values = frame[target]
    keep = np.ones(len(frame), dtype=bool)
    labels = np.array([_label_text(v) if not _missing(v) else "" for v in label_values], dtype=object)
    for i in np.flatnonzero(label_values.isna().to_numpy() | (labels == "")):
        keep[i] = False
        bad.append(BadRow(_where(sources[i]), f"missing label in column '{target}'"))
    if data.labels is not None:
        allowed = set(data.labels)
        for i in np.flatnonzero(keep & ~np.isin(labels, list(allowed))):
            keep[i] = False
            bad.append(BadRow(_where(sources[i]), f"label '{labels[i]}' is not in data.labels"))
    total = len(frame) + len(result.bad_rows)
    if total and len(bad) / total > data.max_bad_fraction:
        examples = "; ".join(f"{b.source}: {b.reason}" for b in bad[:3])
        raise UserError(
            f"data: {len(bad)} of {total} rows are unusable, more than data.max_bad_fraction="
            f"{data.max_bad_fraction} (e.g. {examples}). Fix the data or raise the threshold."
        )
    kept = frame.loc[keep, features].reset_index(drop=True)
    labels = labels[keep]
    classes = list(data.labels) if data.labels is not None else sorted(set(labels.tolist()))
    check_classes(labels, classes, target, min_per_class)
    if raw:
        ids = np.asarray(result.content_ids, dtype=object)[keep]
    else:
        ids = np.array([row_content_id(row) for row in kept.itertuples(index=False, name=None)], dtype=object)
    return ExampleTable(kept, labels, ids, sources[keep], classes, bad)


def _where(source: Any) -> str:
    """A row number as 'row N'; a file path as itself."""
    return f"row {source}" if isinstance(source, int | np.integer) else str(source)


def _missing(value: Any) -> bool:
    try:
        return bool(value != value) or value is None
    except (TypeError, ValueError):
        return False


def check_classes(labels: np.ndarray, classes: list[str], target: str, min_per_class: int) -> None:
    present, counts = np.unique(labels, return_counts=True)
    if len(present) < 2:
        only = present[0] if len(present) else "nothing"
        raise UserError(f"data.target: column '{target}' has a single class ({only}); a classifier needs two or more.")
    for label in classes:
        n = int(counts[present == label][0]) if label in present else 0
        if n < min_per_class:
            raise UserError(
                f"data: class '{label}' has {n} row(s), fewer than eval.cv_folds={min_per_class}; "
                f"add examples, lower eval.cv_folds, or leave the class out of data.labels."
            )
