"""One invoke, and the row it becomes in the store and in the published parts."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

ROUTES = ("production", "canary", "shadow", "pinned")  # pinned: a request for one version (/versions/{v})

# One schema for the DuckDB table and the Parquet parts. Times are UTC, stored without a zone.
SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),  # the writer's running number: parts are named by seq ranges
        ("invoke_id", pa.string()),
        ("ts", pa.timestamp("us")),
        ("model", pa.string()),
        ("version", pa.int32()),
        ("route", pa.string()),
        ("content_id", pa.string()),
        ("input_json", pa.string()),  # a tabular row or a text, as JSON text
        ("input_blob", pa.string()),  # an image: its key under invokes/blobs/
        ("embedding", pa.list_(pa.float32())),
        ("label", pa.string()),
        ("scores", pa.string()),  # {"class": probability, ...} as JSON text
        ("latency_ms", pa.float64()),
        ("key_id", pa.string()),  # the caller's API key id, never the key
        ("runtime", pa.string()),  # what answered: the version's exported copy (onnx) or native
    ]
)
ADDED = ("runtime",)  # columns added after the first schema: null in older stores and parts


def with_added_columns(table: pa.Table) -> pa.Table:
    """A part written before ``ADDED`` columns existed, with them (null), in the schema's order."""
    for name in ADDED:
        if name not in table.column_names:
            table = table.append_column(name, pa.nulls(len(table), SCHEMA.field(name).type))
    return table.select(SCHEMA.names)


_DUCKDB_TYPES = {
    pa.int64(): "BIGINT",
    pa.int32(): "INTEGER",
    pa.string(): "VARCHAR",
    pa.timestamp("us"): "TIMESTAMP",
    pa.float64(): "DOUBLE",
    pa.list_(pa.float32()): "FLOAT[]",
}
DDL = "CREATE TABLE IF NOT EXISTS invokes ({})".format(", ".join(f"{f.name} {_DUCKDB_TYPES[f.type]}" for f in SCHEMA))


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_invoke_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class InvokeRecord:
    """What the server logs for one prediction.

    ``input`` is a tabular row (a mapping of column to value), a text (``str``) or an image
    (``bytes``, stored once per content under ``invokes/blobs/``). ``key_id`` names the caller's API
    key; the key itself must never be logged. Nothing is checked here: the writer checks, in its own
    thread, so that building a record can never fail a prediction.
    """

    model: str
    version: int
    route: str
    content_id: str
    input: Any
    label: str | None
    scores: Mapping[str, float] | None
    latency_ms: float
    embedding: Sequence[float] | None = None
    key_id: str | None = None
    invoke_id: str = field(default_factory=new_invoke_id)
    runtime: str | None = None
    ts: datetime = field(default_factory=utcnow)


def naive_utc(ts: datetime) -> datetime:
    """The stored form of a time: UTC without a zone (a naive time is taken to be UTC already)."""
    return ts.astimezone(timezone.utc).replace(tzinfo=None) if ts.tzinfo else ts


def to_row(record: InvokeRecord, seq: int, put_blob: Callable[[bytes], str]) -> dict[str, Any]:
    """The stored row; raises ValueError or TypeError for a record that cannot be stored."""
    if not isinstance(record, InvokeRecord):
        raise TypeError(f"expected an InvokeRecord, got {type(record).__name__}")
    if record.route not in ROUTES:
        raise ValueError(f"route must be one of {', '.join(ROUTES)}, got {record.route!r}")
    data = record.input
    is_image = isinstance(data, (bytes, bytearray, memoryview))
    return {
        "seq": seq,
        "invoke_id": str(record.invoke_id),
        "ts": naive_utc(record.ts),
        "model": str(record.model),
        "version": int(record.version),
        "route": record.route,
        "content_id": str(record.content_id),
        "input_json": None if is_image or data is None else _json(data),
        "input_blob": put_blob(bytes(data)) if is_image else None,
        "embedding": None if record.embedding is None else [float(v) for v in record.embedding],
        "label": None if record.label is None else str(record.label),
        "scores": None if record.scores is None else _json(dict(record.scores)),
        "latency_ms": float(record.latency_ms),
        "key_id": None if record.key_id is None else str(record.key_id),
        "runtime": None if record.runtime is None else str(record.runtime),
    }


def _json(value: Any) -> str:
    """Strict JSON (NaN becomes null, numpy scalars plain numbers), so any JSON reader can parse it."""
    return json.dumps(_plain(value), allow_nan=False, separators=(",", ":"), default=str)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy scalars and arrays
        return _plain(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
