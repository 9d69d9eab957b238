"""The one writer of a workspace's invoke log, running inside the server process.

``log`` puts a record on a bounded queue and returns at once; a background thread owns the DuckDB
connection, inserts what the queue holds every ``flush_interval_s`` (or ``batch_rows``), and
publishes the new rows as a Parquet part every ``publish_interval_s`` for readers. A second thread
merges small parts. ``close`` drains the queue, so a clean stop loses nothing; after kill -9 what
is lost is the queue and the batch not yet committed (DuckDB replays its WAL on the next open), and
the next writer publishes committed rows that never made it into a part.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from automl.errors import UserError
from automl.store.invokes.blobs import put_blob
from automl.store.invokes.compact import CompactPolicy, compact
from automl.store.invokes.gc_requests import answer_request, pending_requests, read_request, refuse_request
from automl.store.invokes.layout import InvokePaths
from automl.store.invokes.owner import OwnerLock
from automl.store.invokes.publish import clean, last_seq, write_part
from automl.store.invokes.record import SCHEMA, InvokeRecord, to_row, utcnow
from automl.store.invokes.retention import collect
from automl.store.invokes.store import open_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WriterStats:
    written: int  # rows committed to the database
    dropped: int  # records refused by log(): queue full, or the writer closed
    failed: int  # records that could not be stored (bad record, database error); see the log
    queue_depth: int
    last_flush: datetime | None  # UTC time of the last committed batch
    published_seq: int  # readers see every row up to this seq
    running: bool


class InvokeWriter:
    """Owns ``<workspace>/invokes/``: one per workspace, in one process (others get a UserError)."""

    def __init__(
        self,
        workspace: Path | str,
        *,
        max_queue: int = 10_000,
        batch_rows: int = 1_000,
        flush_interval_s: float = 0.25,
        publish_interval_s: float = 1.0,
        compact_interval_s: float = 5.0,
        compact_policy: CompactPolicy | None = None,
        lock_timeout_s: float = 10.0,
    ) -> None:
        self.paths = InvokePaths(Path(workspace))
        self.batch_rows = batch_rows
        self.flush_interval_s = flush_interval_s
        self.publish_interval_s = publish_interval_s
        self.compact_interval_s = compact_interval_s
        self.compact_policy = compact_policy or CompactPolicy()
        self.lock_timeout_s = lock_timeout_s
        self._queue: queue.Queue[InvokeRecord] = queue.Queue(max_queue)
        self._gate = threading.Lock()  # orders log() against close(): nothing is queued after the last drain
        self._parts = threading.Lock()  # compaction and gc both rewrite parts
        self._closed = False
        self._stop = threading.Event()
        self._owner = OwnerLock(self.paths.lock)
        self._con: duckdb.DuckDBPyConnection | None = None
        self._threads: list[threading.Thread] = []
        self._next_seq = 1
        self._pending: list[pa.Table] = []
        self._written = self._dropped = self._failed = 0
        self._last_flush: datetime | None = None
        self._published_seq = 0

    # --- the caller's side -----------------------------------------------------------------

    def start(self) -> InvokeWriter:
        """Take ownership, open (or recover) the database, publish what a crash left unpublished."""
        if self._threads:
            raise RuntimeError("InvokeWriter.start() was already called")
        if not self._owner.acquire("writer", self.lock_timeout_s):
            raise UserError(
                f"the invoke log {self.paths.root} is owned by {self._owner.holder()}; "
                "one server per workspace writes it, so stop that one or give this one another workspace."
            )
        try:
            clean(self.paths.published)
            self._con, db_seq = open_store(self.paths.db)
            self._published_seq = last_seq(self.paths.published)
            self._publish_backlog()
            self._next_seq = max(db_seq, self._published_seq) + 1
        except BaseException:
            if self._con is not None:
                self._con.close()
            self._owner.release()
            raise
        self._threads = [
            threading.Thread(target=self._run, name="invoke-writer", daemon=True),
            threading.Thread(target=self._compact_loop, name="invoke-compactor", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def log(self, record: InvokeRecord) -> bool:
        """Queue one invoke. Never blocks, never raises: False means it was dropped (and counted)."""
        with self._gate:
            if not self._closed:
                try:
                    self._queue.put_nowait(record)
                    return True
                except queue.Full:
                    pass
            self._dropped += 1
            return False

    def close(self) -> WriterStats:
        """Write and publish everything queued, then let go of the store."""
        with self._gate:
            self._closed = True
        self._stop.set()
        for thread in self._threads:
            thread.join()
        if not self._threads:  # never started: what was queued is not going anywhere
            while self._drain_one():
                self._dropped += 1
        self._owner.release()
        return self.stats()

    def stats(self) -> WriterStats:
        return WriterStats(
            written=self._written,
            dropped=self._dropped,
            failed=self._failed,
            queue_depth=self._queue.qsize(),
            last_flush=self._last_flush,
            published_seq=self._published_seq,
            running=any(t.is_alive() for t in self._threads[:1]),
        )

    def __enter__(self) -> InvokeWriter:
        return self if self._threads else self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the writer thread -----------------------------------------------------------------

    def _run(self) -> None:
        assert self._con is not None
        last_publish = next_gc_check = time.monotonic()
        try:
            while True:
                stopping = self._stop.is_set()  # read before taking, so the last batch sees all of close()'s
                batch = self._take(wait=not stopping)
                if batch:
                    self._flush(batch)
                now = time.monotonic()
                if self._pending and (stopping or now - last_publish >= self.publish_interval_s):
                    self._publish()
                    last_publish = now
                if now >= next_gc_check:
                    self._serve_gc_requests()
                    next_gc_check = now + 1.0
                if stopping and not batch:
                    break
        except BaseException:
            log.exception("invoke writer stopped; invokes are no longer logged")
        finally:
            self._con.close()

    def _take(self, wait: bool) -> list[InvokeRecord]:
        """Records for one batch: up to ``batch_rows``, waiting at most ``flush_interval_s``."""
        deadline = time.monotonic() + (self.flush_interval_s if wait else 0.0)
        batch: list[InvokeRecord] = []
        while len(batch) < self.batch_rows:
            waiting = deadline - time.monotonic()
            if waiting > 0 and self._stop.is_set():  # close() was called: stop waiting, drain
                waiting = 0.0
            try:
                # short waits, so that close() is noticed within 50 ms
                batch.append(self._queue.get(timeout=min(waiting, 0.05)) if waiting > 0 else self._queue.get_nowait())
            except queue.Empty:
                if waiting <= 0:
                    break
        return batch

    def _drain_one(self) -> bool:
        try:
            self._queue.get_nowait()
            return True
        except queue.Empty:
            return False

    def _flush(self, batch: list[InvokeRecord]) -> None:
        assert self._con is not None
        store_blob = partial(put_blob, self.paths.blobs)
        rows: list[dict[str, Any]] = []
        for record in batch:
            try:
                rows.append(to_row(record, self._next_seq + len(rows), store_blob))
            except Exception as err:
                self._fail(1, f"invoke not logged: {err}")
        if not rows:
            return
        try:
            table = pa.Table.from_pylist(rows, schema=SCHEMA)
            self._con.register("batch", table)
            try:
                self._con.execute("INSERT INTO invokes SELECT * FROM batch")
            finally:
                self._con.unregister("batch")
        except Exception as err:  # a value out of range, a full disk: this batch is lost, the writer goes on
            self._fail(len(rows), f"{len(rows)} invokes not logged: {err}")
            return
        self._next_seq += len(rows)
        self._written += len(rows)
        self._last_flush = utcnow()
        self._pending.append(table)

    def _publish(self) -> None:
        table = pa.concat_tables(self._pending)
        try:
            write_part(self.paths.published, table)
        except OSError as err:  # a full disk: keep the rows and try again next time
            log.error("could not publish %d invokes to %s: %s", table.num_rows, self.paths.published, err)
            return
        self._pending.clear()
        self._published_seq = table.column("seq")[-1].as_py()

    def _publish_backlog(self) -> None:
        """Committed rows that no part holds yet (the writer before this one was killed)."""
        assert self._con is not None
        while True:
            sql = "SELECT * FROM invokes WHERE seq > ? ORDER BY seq LIMIT 100000"
            table = self._con.sql(sql, params=[self._published_seq]).to_arrow_table()
            if not table.num_rows:
                return
            write_part(self.paths.published, table.cast(SCHEMA))
            self._published_seq = table.column("seq")[-1].as_py()

    def _serve_gc_requests(self) -> None:
        for request in pending_requests(self.paths):
            if self._pending:
                self._publish()
            try:
                asked = read_request(request)
                with self._parts:
                    result = collect(self.paths, self._con, asked.rules, dry_run=asked.dry_run)
                answer_request(request, result)
            except Exception as err:
                log.exception("gc request %s failed", request)
                refuse_request(request, err)

    def _fail(self, n: int, message: str) -> None:
        self._failed += n
        if self._failed <= 10 or self._failed % 1000 < n:  # the first few, then now and then
            log.warning("%s (%d failed so far)", message, self._failed)

    # --- the compactor thread --------------------------------------------------------------

    def _compact_loop(self) -> None:
        while not self._stop.wait(self.compact_interval_s):
            try:
                with self._parts:
                    compact(self.paths.published, self.compact_policy)
            except Exception:
                log.exception("compacting %s failed; will try again", self.paths.published)
