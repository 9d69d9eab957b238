"""Retention: delete invokes older than their model's retention allows, and the inputs no remaining
invoke uses.

Each model has its own cutoff (``deploy.retention_days`` of its recipe; None keeps its invokes
forever), and invokes of a model not named (one deleted from the registry) get a default. Only
the store's owner may delete. With no writer running, ``gc`` takes the owner lock and does the
work itself; while a server's writer runs, ``gc`` leaves a request file that the writer carries
out between two batches, and waits for its answer.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from automl.errors import UserError
from automl.store.invokes.blobs import blob_path, remove_unreferenced
from automl.store.invokes.gc_requests import await_answer, read_answer, write_request
from automl.store.invokes.gc_rules import DEFAULT_RETENTION_DAYS, GcResult, ModelGc, Retention, check_days
from automl.store.invokes.layout import InvokePaths
from automl.store.invokes.owner import OwnerLock
from automl.store.invokes.publish import Part, clean, list_parts, read_part, replace_part, visible
from automl.store.invokes.record import naive_utc, utcnow
from automl.store.invokes.store import open_store


def gc(
    workspace: Path | str,
    retention: Mapping[str, float | None] | None = None,
    *,
    default_days: float | None = DEFAULT_RETENTION_DAYS,
    dry_run: bool = False,
    now: datetime | None = None,
    timeout_s: float = 60,
) -> GcResult:
    """Delete each model's invokes older than its ``retention`` days (``default_days`` for models
    not in it; None keeps forever) and the blobs no remaining invoke references. ``dry_run``
    counts what would go and deletes nothing."""
    days = {str(m): check_days(d, f"retention_days of {m}") for m, d in (retention or {}).items()}
    rules = Retention(days, check_days(default_days, "default_days"), naive_utc(now or utcnow()))
    paths = InvokePaths(Path(workspace))
    if not paths.root.is_dir():
        return _result(rules, set(), {}, {}, {}, 0, dry_run)
    return _as_owner(paths, rules, dry_run, timeout_s)


def _as_owner(paths: InvokePaths, rules: Retention, dry_run: bool, timeout_s: float) -> GcResult:
    """Run ``collect`` here under the owner lock, or have the running writer run it."""
    lock = OwnerLock(paths.lock)
    request: Path | None = None
    deadline = time.monotonic() + timeout_s
    while not lock.acquire("gc"):
        holder = lock.holder()
        if holder.startswith("writer"):  # a running server: it does the deleting
            request = request or write_request(paths, rules, dry_run)
            answer = await_answer(request)
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
            answer = read_answer(request)  # it may have answered just before it stopped
            request.unlink(missing_ok=True)
            if answer is not None:
                return answer
        return _collect_here(paths, rules, dry_run)
    finally:
        lock.release()


def _collect_here(paths: InvokePaths, rules: Retention, dry_run: bool) -> GcResult:
    if not dry_run:
        clean(paths.published)
    con = open_store(paths.db)[0] if paths.db.exists() else None
    try:
        return collect(paths, con, rules, dry_run=dry_run)
    finally:
        if con is not None:
            con.close()


@dataclass
class _Tally:
    """What one gc found, filled by the database pass and then each part's."""

    db_rows: dict[str, int] = field(default_factory=dict)  # per model, rows deleted from the database
    published_rows: dict[str, int] = field(default_factory=dict)  # ... and from the parts
    gone: dict[str, set[str]] = field(default_factory=dict)  # per model, the blobs its expired invokes use
    keep: set[str] = field(default_factory=set)  # blobs that remaining invokes use
    seen: set[str] = field(default_factory=set)  # every model with invokes


def collect(
    paths: InvokePaths, con: duckdb.DuckDBPyConnection | None, rules: Retention, *, dry_run: bool = False
) -> GcResult:
    """The deletion itself, by the store's owner (``con`` is its database, if it has one)."""
    tally = _Tally()
    if con is not None:
        _collect_db(con, rules, dry_run, tally)
    parts = visible(list_parts(paths.published))
    for part in parts:
        newest = part == parts[-1]  # it stays, empty if need be, so seq never repeats
        _collect_part(part, newest, rules, dry_run, tally)
    keep = tally.keep
    on_disk = {k for keys in tally.gone.values() for k in keys if blob_path(paths.blobs, k).exists()}
    blobs = _count_unreferenced(paths.blobs, keep) if dry_run else remove_unreferenced(paths.blobs, keep)
    per_model_blobs = {m: len((keys & on_disk) - keep) for m, keys in tally.gone.items()}
    return _result(rules, tally.seen, tally.db_rows, tally.published_rows, per_model_blobs, blobs, dry_run)


def _expired_sql(rules: Retention, models: Iterable[str]) -> tuple[str, list[Any]]:
    """A WHERE clause matching the invokes past their model's cutoff: (model = ? AND ts < ?) OR ..."""
    cutoffs = [(m, c) for m in sorted(models) if (c := rules.cutoff(m)) is not None]
    if not cutoffs:
        return "false", []
    return " OR ".join(["(model = ? AND ts < ?)"] * len(cutoffs)), [v for pair in cutoffs for v in pair]


def _collect_db(con: duckdb.DuckDBPyConnection, rules: Retention, dry_run: bool, tally: _Tally) -> None:
    """Delete (or count) the database's expired rows."""
    models = {m for (m,) in con.execute("SELECT DISTINCT model FROM invokes").fetchall()}
    tally.seen |= models
    rows = tally.db_rows
    expired, params = _expired_sql(rules, models)
    counts = con.execute(f"SELECT model, count(*) FROM invokes WHERE {expired} GROUP BY model", params).fetchall()
    rows.update((model, int(n)) for model, n in counts)
    sql = f"SELECT DISTINCT model, input_blob FROM invokes WHERE input_blob IS NOT NULL AND ({expired})"
    for model, key in con.execute(sql, params).fetchall():
        tally.gone.setdefault(model, set()).add(key)
    if not dry_run and rows:
        con.execute(f"DELETE FROM invokes WHERE {expired}", params)
    sql = f"SELECT DISTINCT input_blob FROM invokes WHERE input_blob IS NOT NULL AND NOT ({expired})"
    tally.keep.update(key for (key,) in con.execute(sql, params).fetchall())


def _collect_part(part: Part, newest: bool, rules: Retention, dry_run: bool, tally: _Tally) -> None:
    """Delete (or count) one part's expired rows, rewriting or removing the part."""
    table = pq.read_table(part.path, columns=["model", "ts", "input_blob"])
    models = set(pc.unique(table.column("model")).drop_null().to_pylist())
    tally.seen |= models
    rows = tally.published_rows
    expired = pa.array([False] * table.num_rows)
    for model in models:
        cutoff = rules.cutoff(model)
        if cutoff is None:
            continue
        mine = pc.and_(pc.equal(table.column("model"), model), pc.less(table.column("ts"), cutoff))
        n = pc.sum(mine).as_py() or 0
        if n:
            rows[model] = rows.get(model, 0) + n
            blobs = pc.filter(table.column("input_blob"), mine).drop_null()
            tally.gone.setdefault(model, set()).update(pc.unique(blobs).to_pylist())
            expired = pc.or_(expired, mine)
    kept = pc.invert(expired)
    tally.keep.update(pc.unique(pc.filter(table.column("input_blob"), kept).drop_null()).to_pylist())
    n_expired = pc.sum(expired).as_py() or 0
    if dry_run or not n_expired:
        return
    if n_expired == table.num_rows and not newest:
        part.path.unlink()
    else:
        full = read_part(part)
        replace_part(part, full.filter(kept))


def _count_unreferenced(root: Path, keep: set[str]) -> int:
    """What ``remove_unreferenced`` would delete, deleting nothing."""
    if not root.is_dir():
        return 0
    return sum(
        1
        for folder in root.iterdir()
        if folder.is_dir()
        for path in folder.iterdir()
        if path.name not in keep and not path.name.startswith(".tmp-")
    )


def _result(
    rules: Retention,
    seen: set[str],
    db_rows: dict[str, int],
    published_rows: dict[str, int],
    blobs: dict[str, int],
    total_blobs: int,
    dry_run: bool,
) -> GcResult:
    models = tuple(
        ModelGc(m, rules.days_of(m), rules.cutoff(m), db_rows.get(m, 0), published_rows.get(m, 0), blobs.get(m, 0))
        for m in sorted(set(rules.days) | seen)
    )
    return GcResult(models, total_blobs, dry_run)
