"""Retention: delete invokes older than the recipe allows, and the inputs no remaining invoke uses.

Only the store's owner may delete. With no writer running, ``gc`` takes the owner lock and does
the work itself; while a server's writer runs, ``gc`` leaves a request file that the writer carries
out between two batches, and waits for its answer.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq

from automl.errors import UserError
from automl.invokes.blobs import remove_unreferenced
from automl.invokes.layout import InvokePaths
from automl.invokes.owner import OwnerLock
from automl.invokes.publish import clean, list_parts, read_part, replace_part
from automl.invokes.record import naive_utc, utcnow
from automl.invokes.store import open_store

REQUEST_GLOB = "gc-request-*.json"


@dataclass(frozen=True)
class GcResult:
    cutoff: datetime  # invokes before this time (UTC) were deleted
    db_rows: int  # rows deleted from the writer's database
    published_rows: int  # rows deleted from the published parts
    blobs: int  # input files deleted

    def to_json(self) -> dict[str, object]:
        return {**asdict(self), "cutoff": self.cutoff.isoformat()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GcResult:
        return cls(**{**data, "cutoff": datetime.fromisoformat(data["cutoff"])})


def gc(workspace: Path | str, retention_days: float, *, now: datetime | None = None, timeout_s: float = 60) -> GcResult:
    """Delete invokes older than ``retention_days`` and the blobs no remaining invoke references."""
    if not isinstance(retention_days, (int, float)) or retention_days < 0:
        raise UserError(f"retention_days must be a number >= 0. Got {retention_days!r}.")
    cutoff = naive_utc(now or utcnow()) - timedelta(days=retention_days)
    paths = InvokePaths(Path(workspace))
    if not paths.root.is_dir():
        return GcResult(cutoff, 0, 0, 0)
    lock = OwnerLock(paths.lock)
    request: Path | None = None
    deadline = time.monotonic() + timeout_s
    while not lock.acquire("gc"):
        holder = lock.holder()
        if holder.startswith("writer"):  # a running server: it does the deleting
            request = request or _write_request(paths, cutoff)
            answer = _read_answer(request)
            if answer is not None:
                return answer
        if time.monotonic() > deadline:
            if request is not None:
                request.unlink(missing_ok=True)
            raise UserError(
                f"{paths.root} is owned by {holder}, which did not carry out gc within {timeout_s:.0f} s; "
                "try again, or stop the server and run gc then."
            )
        time.sleep(0.1)
    try:  # no writer (or it went away while we waited): do it here
        if request is not None:
            request.unlink(missing_ok=True)
        clean(paths.published)
        con = open_store(paths.db)[0] if paths.db.exists() else None
        try:
            return collect(paths, con, cutoff)
        finally:
            if con is not None:
                con.close()
    finally:
        lock.release()


def collect(paths: InvokePaths, con: duckdb.DuckDBPyConnection | None, cutoff: datetime) -> GcResult:
    """The deletion itself, by the store's owner (``con`` is its database, if it has one)."""
    db_rows = 0
    keep: set[str] = set()
    if con is not None:
        db_rows = con.execute("DELETE FROM invokes WHERE ts < ?", [cutoff]).fetchall()[0][0]
        blobs = con.execute("SELECT DISTINCT input_blob FROM invokes WHERE input_blob IS NOT NULL").fetchall()
        keep.update(b for (b,) in blobs)
    published_rows = 0
    parts = list_parts(paths.published)
    for part in parts:
        times = pq.read_table(part.path, columns=["ts"]).column("ts")
        old = pc.sum(pc.less(times, cutoff)).as_py() or 0
        if old == len(times) and part != parts[-1]:  # the newest part stays, empty if need be, so seq never repeats
            part.path.unlink()
        elif old:
            table = read_part(part)
            replace_part(part, table.filter(pc.greater_equal(table.column("ts"), cutoff)))
        published_rows += old
    for part in list_parts(paths.published):
        keys = pq.read_table(part.path, columns=["input_blob"]).column("input_blob")
        keep.update(k for k in pc.unique(keys.drop_null()).to_pylist())
    return GcResult(cutoff, int(db_rows), published_rows, remove_unreferenced(paths.blobs, keep))


def pending_requests(paths: InvokePaths) -> list[Path]:
    return sorted(paths.root.glob(REQUEST_GLOB))


def answer_request(request: Path, result: GcResult) -> None:
    """Written by the writer, for the ``gc`` that is waiting on ``request``."""
    done = request.with_name(request.name.replace("gc-request-", "gc-done-"))
    _write_json(done, result.to_json())
    request.unlink(missing_ok=True)


def request_cutoff(request: Path) -> datetime:
    return datetime.fromisoformat(json.loads(request.read_text())["cutoff"])


def _write_request(paths: InvokePaths, cutoff: datetime) -> Path:
    request = paths.root / f"gc-request-{uuid.uuid4().hex}.json"
    _write_json(request, {"cutoff": cutoff.isoformat()})
    return request


def _read_answer(request: Path) -> GcResult | None:
    done = request.with_name(request.name.replace("gc-request-", "gc-done-"))
    if not done.exists():
        return None
    answer = GcResult.from_json(json.loads(done.read_text()))
    done.unlink()
    return answer


def _write_json(path: Path, data: dict[str, object]) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)
