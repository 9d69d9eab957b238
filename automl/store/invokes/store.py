"""Opening the writer's DuckDB file: replay its WAL, or move a broken one aside and start afresh."""

from __future__ import annotations

import warnings
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from automl.errors import UserError
from automl.store.invokes.record import ADDED, DDL, SCHEMA


class StoreMovedAside(UserWarning):
    """The invoke database could not be opened; it was renamed (kept, not deleted) and a fresh one started."""


def open_store(path: Path) -> tuple[duckdb.DuckDBPyConnection, int]:
    """A connection to the invoke table and its highest ``seq`` (0 when empty).

    DuckDB replays the write-ahead log on open, so a store killed mid-write opens with every
    committed batch. A file that will not open, replay or answer a query is renamed, with its WAL,
    to ``invokes.broken-<time>.duckdb`` and reported; a file locked by another process is an error.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return _open(path)
    except duckdb.Error as err:
        if "Could not set lock" in str(err) or "Conflicting lock" in str(err):
            raise UserError(
                f"{path} is open in another process ({_first_line(err)}); stop it, or use another workspace."
            ) from None
        aside = move_aside(path)
        warnings.warn(
            f"invoke store {path} could not be opened ({_first_line(err)}); moved it to {aside} "
            "and started a fresh one. The published invokes are kept.",
            StoreMovedAside,
            stacklevel=2,
        )
    return _open(path)


def _open(path: Path) -> tuple[duckdb.DuckDBPyConnection, int]:
    con = duckdb.connect(str(path), config={"threads": 1})
    try:
        con.execute(DDL)
        columns = [r[0] for r in con.execute("SELECT column_name FROM (DESCRIBE invokes)").fetchall()]
        if columns == [n for n in SCHEMA.names if n not in ADDED]:  # a store written before them
            for name in ADDED:
                con.execute(f"ALTER TABLE invokes ADD COLUMN {name} VARCHAR")
            columns = SCHEMA.names
        if columns != SCHEMA.names:
            raise duckdb.InvalidInputException(f"table invokes has columns {columns}, expected {SCHEMA.names}")
        max_seq = con.execute("SELECT coalesce(max(seq), 0) FROM invokes").fetchall()[0][0]
    except BaseException:
        con.close()
        raise
    return con, int(max_seq)


def move_aside(path: Path) -> Path:
    """Rename the database and its WAL together, so the pair can still be opened to look at."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    aside = path.with_name(f"{path.stem}.broken-{stamp}{path.suffix}")
    wal = path.with_name(path.name + ".wal")
    if wal.exists():
        wal.rename(aside.with_name(aside.name + ".wal"))
    if path.exists():
        path.rename(aside)
    return aside


def _first_line(err: BaseException) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
