"""What a model saw and said, as samples to compare: a window of its logged invokes, or the
training data of its production version with that run's out-of-fold predictions.

Invokes are read from the published parts (``query_invokes``), never the server's locked store,
so this works while the server runs. Shadow invokes are left out: they are another version's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from automl.data.table import PROBA_PREFIX
from automl.store.invokes import query_invokes

SERVED = "SELECT seq, ts, input_json, embedding, label, scores FROM invokes WHERE model = ? AND route <> 'shadow'"
"""What a window reads of a model's invokes: the answered ones (a shadow's are another version's)."""


@dataclass(frozen=True)
class Sample:
    """One side of a comparison. ``columns``: a tabular model's inputs (None for texts and images);
    ``embeddings``: one row per input where the model logs them; ``labels`` and ``confidence``:
    the predicted class and its probability; ``times``: when each invoke was made (empty for
    training data)."""

    source: str  # what the sample is, in words
    columns: pd.DataFrame | None
    embeddings: np.ndarray | None
    labels: np.ndarray
    confidence: np.ndarray
    times: list[datetime] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)


def _sample(rows: pd.DataFrame, source: str, tabular: bool) -> Sample:
    scores = [json.loads(s) if isinstance(s, str) else {} for s in rows["scores"]]
    columns = pd.DataFrame([json.loads(x) for x in rows["input_json"]]) if tabular and len(rows) else None
    vectors = [v for v in rows["embedding"] if v is not None]
    embeddings = np.asarray([list(v) for v in vectors], dtype=np.float32) if len(vectors) == len(rows) > 0 else None
    return Sample(
        source=source,
        columns=columns,
        embeddings=embeddings,
        labels=rows["label"].astype(str).to_numpy(),
        confidence=np.asarray([max(s.values()) if s else np.nan for s in scores], dtype=float),
        times=[t.to_pydatetime() for t in pd.to_datetime(rows["ts"], utc=True).dt.tz_convert(None)],
    )


def invoke_windows(
    workspace: Path, model: str, window: int, reference_window: int | None, tabular: bool
) -> tuple[Sample, Sample | None]:
    """The most recent ``window`` invokes of ``model`` and, when ``reference_window`` is given, the
    ``reference_window`` invokes before them (None when there are none)."""
    total = window + (reference_window or 0)
    rows = query_invokes(
        workspace,
        f"{SERVED} ORDER BY seq DESC LIMIT ?",
        [model, total],
    ).iloc[::-1]
    current, before = rows.iloc[-window:], rows.iloc[: max(0, len(rows) - window)]
    recent = _sample(current, f"the last {len(current)} invokes", tabular)
    if reference_window is None:
        return recent, None
    if not len(before):
        return recent, None
    return recent, _sample(before, f"the {len(before)} invokes before them", tabular)


def invoke_time_windows(
    workspace: Path, model: str, hours: float, reference_hours: float | None, tabular: bool, now: datetime
) -> tuple[Sample, Sample | None]:
    """The invokes of ``model`` in the last ``hours`` before ``now`` (UTC) and, when
    ``reference_hours`` is given, those in the ``reference_hours`` before them."""
    start = now - timedelta(hours=hours)
    first = start - timedelta(hours=reference_hours or 0)
    rows = query_invokes(
        workspace,
        f"{SERVED} AND ts >= ? AND ts < ? ORDER BY seq",
        [model, first, now],
    )
    times = pd.to_datetime(rows["ts"], utc=True).dt.tz_convert(None)
    current, before = rows[(times >= start).to_numpy()], rows[(times < start).to_numpy()]
    recent = _sample(current, f"the {len(current)} invokes of the last {hours:g} h", tabular)
    if reference_hours is None or not len(before):
        return recent, None
    return recent, _sample(before, f"the {len(before)} invokes of the {reference_hours:g} h before", tabular)


def invoke_history(workspace: Path, model: str, limit: int = 100_000) -> pd.DataFrame:
    """Time and predicted class of the model's latest invokes (for the report's plots over time)."""
    return query_invokes(
        workspace,
        "SELECT ts, label FROM invokes WHERE model = ? AND route <> 'shadow' ORDER BY seq DESC LIMIT ?",
        [model, limit],
    ).iloc[::-1]


def training_sample(
    columns: pd.DataFrame | None, oof: pd.DataFrame, embeddings: np.ndarray | None, classes: list[str]
) -> Sample:
    """The training data as a sample: its feature columns, the out-of-fold predictions of the
    run's winner (what the model says about data like its own) and the cached embeddings."""
    proba = oof[[f"{PROBA_PREFIX}{c}" for c in classes]].to_numpy(dtype=float)
    return Sample(
        source=f"the {len(oof)} training examples (out-of-fold predictions)",
        columns=columns,
        embeddings=embeddings,
        labels=np.asarray(classes, dtype=object)[proba.argmax(axis=1)].astype(str),
        confidence=proba.max(axis=1),
    )
