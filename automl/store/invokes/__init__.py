"""The invoke log: every prediction the server makes, kept in the workspace.

One writer (``InvokeWriter``, in the server process) owns ``invokes/invokes.duckdb`` and publishes
what it writes as Parquet parts; every other reader (``read_invokes``, ``query_invokes``) reads the
parts and never needs DuckDB's lock. ``gc`` bounds how long invokes and their inputs are kept, per
model (``deploy.retention_days``). See docs/invoke-log.md.
"""

from __future__ import annotations

from automl.store.invokes.blobs import read_blob
from automl.store.invokes.gc_rules import DEFAULT_RETENTION_DAYS, GcResult, ModelGc
from automl.store.invokes.layout import InvokePaths
from automl.store.invokes.reader import query_invokes, read_invokes
from automl.store.invokes.record import ROUTES, InvokeRecord
from automl.store.invokes.retention import gc
from automl.store.invokes.store import StoreMovedAside
from automl.store.invokes.writer import InvokeWriter, WriterStats

__all__ = [
    "DEFAULT_RETENTION_DAYS",
    "ROUTES",
    "GcResult",
    "InvokePaths",
    "InvokeRecord",
    "InvokeWriter",
    "ModelGc",
    "StoreMovedAside",
    "WriterStats",
    "gc",
    "query_invokes",
    "read_blob",
    "read_invokes",
]
