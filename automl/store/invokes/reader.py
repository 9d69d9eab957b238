"""Reading invokes from what the writer publishes: works while a server runs, after it stopped or
crashed, and before any server ever ran (no rows, the same columns)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from automl.store.invokes.layout import InvokePaths
from automl.store.invokes.publish import list_parts, visible
from automl.store.invokes.record import SCHEMA, naive_utc

if TYPE_CHECKING:
    import pandas as pd

_ATTEMPTS = 5


def read_invokes(
    workspace: Path | str,
    model: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
) -> pd.DataFrame:
    """Invokes in ``seq`` order, optionally of one model and in ``[since, until)``.

    Times are UTC (a naive ``since``/``until`` is taken as UTC). ``input_json`` and ``scores`` are
    JSON text; ``embedding`` is an array or None; ``input_blob`` is a key for ``read_blob``.
    """
    where: list[str] = []
    params: list[Any] = []
    if model is not None:
        where.append("model = ?")
        params.append(model)
    for op, bound in ((">=", since), ("<", until)):
        if bound is not None:
            where.append(f"ts {op} ?")
            params.append(naive_utc(datetime.fromisoformat(bound) if isinstance(bound, str) else bound))
    sql = "SELECT * FROM invokes" + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY seq"
    return query_invokes(workspace, sql, params)


def query_invokes(workspace: Path | str, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    """Run ``sql`` against a view ``invokes`` of the published rows (an in-memory DuckDB)."""
    folder = InvokePaths(Path(workspace)).published
    listing = _listing(folder)
    attempts = 1
    while True:
        con = duckdb.connect(config={"threads": 2})
        try:
            _create_view(con, [path for path, _ in listing])
            return _utc(con.sql(sql, params=list(params) or None).to_arrow_table()).to_pandas()
        except duckdb.Error:
            # a part merged away or rewritten while we read shows as a changed listing: read again
            before, listing = listing, _listing(folder)
            if listing == before or attempts == _ATTEMPTS:
                raise
            attempts += 1
            time.sleep(0.05)
        finally:
            con.close()


def _listing(folder: Path) -> list[tuple[str, int]]:
    """The parts to read, each with its modification time (gc rewrites a part under its name)."""
    listed = []
    for part in visible(list_parts(folder)):
        try:
            listed.append((str(part.path), part.path.stat().st_mtime_ns))
        except FileNotFoundError:  # merged away just now
            continue
    return listed


def _create_view(con: duckdb.DuckDBPyConnection, files: list[str]) -> None:
    if not files:
        con.register("invokes", SCHEMA.empty_table())
        return
    listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    # Parts written before a column was added lack it: the empty table of the schema, unioned by
    # name, gives every column (null there) in the schema's order.
    con.register("invokes_schema", SCHEMA.empty_table())
    con.execute(
        "CREATE VIEW invokes AS SELECT * FROM invokes_schema UNION ALL BY NAME "
        f"SELECT * FROM read_parquet([{listed}], union_by_name = true)"
    )


def _utc(table: pa.Table) -> pa.Table:
    """Stored times are UTC without a zone; hand them out with it."""
    for i, f in enumerate(table.schema):
        if pa.types.is_timestamp(f.type) and f.type.tz is None:
            table = table.set_column(i, f.name, table.column(i).cast(pa.timestamp(f.type.unit, tz="UTC")))
    return table
