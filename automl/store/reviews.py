"""The review queue and the annotations: ``<workspace>/reviews/reviews.duckdb``.

A file of its own, apart from the invoke store (whose one writer is the server): short-lived
commands (``automl sample``, ``automl review``) open it, write in one short transaction, and close
it. Another command holding it makes the next wait a few seconds, then say so.

- ``queue``: invokes picked for a human look: which invoke and content, why (the sampler and its
  reason), what the model said, and whether the item is pending, reviewed or skipped.
- ``flags``: invokes a caller flagged for a look (through the server), with the reason.
- ``annotations``: a label a person gave to a content id, with who, when and from where (a review
  of a queue item, an imported file); the input itself comes along, so a reviewed invoke can
  become a training example. The newest annotation of a content id wins.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import astuple, dataclass, fields
from datetime import datetime
from pathlib import Path

import duckdb

from automl.errors import UserError

PENDING, REVIEWED, SKIPPED = "pending", "reviewed", "skipped"
BUSY_WAIT_S = 10.0
_IN_PROCESS = threading.Lock()
"""One connection at a time within a process (the server saves flags from worker threads)."""


class Conflict(UserError):
    """An answer that does not fit the item's state (answered already, not answered): the page's
    HTTP 409."""


@dataclass(frozen=True)
class QueueItem:
    item_id: str
    model: str
    version: int
    invoke_id: str
    content_id: str
    sampled_at: datetime
    sampler: str
    reason: str
    predicted: str
    confidence: float
    input_json: str | None  # a tabular row or a text, as JSON text
    input_blob: str | None  # an image: its key in the invoke store's blobs
    status: str = PENDING


@dataclass(frozen=True)
class Flag:
    """A caller said an invoke deserves a look (a business consequence, a user's report)."""

    invoke_id: str
    model: str
    reason: str
    flagged_at: datetime
    key_id: str | None


@dataclass(frozen=True)
class Annotation:
    content_id: str
    model: str
    label: str
    reviewer: str
    annotated_at: datetime
    source: str  # review | import
    item_id: str | None
    input_json: str | None
    input_blob: str | None


def _ddl(table: str, cls: type) -> str:
    types = {"int": "INTEGER", "float": "DOUBLE", "datetime": "TIMESTAMP"}
    columns = ", ".join(f"{f.name} {types.get(str(f.type).split(' ')[0], 'VARCHAR')}" for f in fields(cls))
    return f"CREATE TABLE IF NOT EXISTS {table} ({columns})"


class ReviewStore:
    def __init__(self, workspace: Path) -> None:
        self.path = Path(workspace) / "reviews" / "reviews.duckdb"

    @contextmanager
    def _connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with _IN_PROCESS:
            with self._open() as con:
                yield con

    @contextmanager
    def _open(self) -> Iterator[duckdb.DuckDBPyConnection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + BUSY_WAIT_S
        while True:
            try:
                con = duckdb.connect(str(self.path), config={"threads": 1})
                break
            except duckdb.IOException as err:
                if "lock" not in str(err).lower() or time.monotonic() > deadline:
                    raise UserError(
                        f"{self.path} is busy in another process ({str(err).splitlines()[0]}); try again."
                    ) from None
                time.sleep(0.1)  # another short-lived command holds the file: it lets go within a moment
        try:
            con.execute(_ddl("queue", QueueItem))
            con.execute(_ddl("annotations", Annotation))
            con.execute(_ddl("flags", Flag))
            yield con
        finally:
            con.close()

    def flag(self, flags: Sequence[Flag]) -> None:
        if flags:
            with self._connect() as con:
                con.executemany("INSERT INTO flags VALUES (?, ?, ?, ?, ?)", [astuple(f) for f in flags])

    def flags(self, model: str) -> dict[str, str]:
        """Flagged invoke ids of ``model`` and the newest reason of each."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT invoke_id, reason FROM flags WHERE model = ? ORDER BY flagged_at", [model]
            ).fetchall()
        return {r[0]: r[1] for r in rows}

    def known_contents(self, model: str) -> set[str]:
        """Content ids of ``model`` queued (in any state) or annotated: never queued again."""
        return {i.content_id for i in self.items(model, status=None)} | {a.content_id for a in self.annotations(model)}

    def reviewed(self, model: str) -> list[tuple[QueueItem, str]]:
        """Queue items a reviewer labelled, each with its label (the newest of its content)."""
        labels = {a.item_id: a.label for a in self.annotations(model) if a.item_id}
        return [(i, labels[i.item_id]) for i in self.items(model, status=None) if i.item_id in labels]

    def queued_since(self, model: str, since: datetime) -> int:
        with self._connect() as con:
            row = con.execute(
                "SELECT count(*) FROM queue WHERE model = ? AND sampled_at >= ?", [model, since]
            ).fetchone()
            return int(row[0]) if row else 0

    def add(self, items: Sequence[QueueItem]) -> None:
        if not items:
            return
        with self._connect() as con:
            con.executemany(
                f"INSERT INTO queue VALUES ({', '.join('?' * len(fields(QueueItem)))})", [astuple(i) for i in items]
            )

    def items(self, model: str, status: str | None = PENDING) -> list[QueueItem]:
        where, params = ("AND status = ?", [model, status]) if status else ("", [model])
        with self._connect() as con:
            rows = con.execute(
                f"SELECT * FROM queue WHERE model = ? {where} ORDER BY sampled_at, item_id", params
            ).fetchall()
        return [QueueItem(*r) for r in rows]

    def annotate(self, annotations: Sequence[Annotation], skipped: Sequence[str] = (), pending: bool = False) -> None:
        """Save ``annotations`` (reviewed items leave the queue) and mark ``skipped`` items, all in
        one transaction: an import lands whole or not at all. ``pending``: every item must still
        be pending, checked in the same transaction as the write (two answers to one item, from
        two tabs or a page and ``automl review``, cannot both land); else a :class:`Conflict` and
        nothing is saved."""
        with self._connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                done = [a.item_id for a in annotations if a.item_id]
                for status, ids in ((REVIEWED, done), (SKIPPED, list(skipped))):
                    if not ids:
                        continue
                    where = f"item_id IN ({', '.join('?' * len(ids))})" + (" AND status = ?" if pending else "")
                    params = [status, *ids, *([PENDING] if pending else [])]
                    row = con.execute(f"UPDATE queue SET status = ? WHERE {where}", params).fetchone()
                    missed = len(set(ids)) - (row[0] if row else 0)
                    if pending and missed:
                        raise Conflict(f"{missed} of the items are answered already (undo them first); nothing saved.")
                if annotations:
                    marker = f"INSERT INTO annotations VALUES ({', '.join('?' * len(fields(Annotation)))})"
                    con.executemany(marker, [astuple(a) for a in annotations])
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    def undo(self, item_id: str) -> bool:
        """Forget the annotation of a reviewed (or skipped) item and put it back in the queue;
        False (nothing changed) where the item is pending already."""
        with self._connect() as con:
            con.execute("BEGIN TRANSACTION")
            row = con.execute(
                "UPDATE queue SET status = ? WHERE item_id = ? AND status <> ?", [PENDING, item_id, PENDING]
            ).fetchone()
            changed = bool(row and row[0])
            if changed:
                con.execute("DELETE FROM annotations WHERE item_id = ?", [item_id])
            con.execute("COMMIT")
        return changed

    def annotations(self, model: str) -> list[Annotation]:
        """The newest annotation of each content id of ``model``."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT * FROM annotations WHERE model = ? QUALIFY row_number() OVER "
                "(PARTITION BY content_id ORDER BY annotated_at DESC) = 1 ORDER BY annotated_at",
                [model],
            ).fetchall()
        return [Annotation(*r) for r in rows]
