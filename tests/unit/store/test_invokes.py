"""The invoke log: a real writer thread, a real DuckDB file, real Parquet parts."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from automl.errors import UserError
from automl.store.invokes import InvokePaths, InvokeWriter, gc, query_invokes, read_blob, read_invokes
from automl.store.invokes import writer as writer_module
from automl.store.invokes.compact import CompactPolicy, compact
from automl.store.invokes.publish import list_parts, write_part
from automl.store.invokes.record import SCHEMA
from automl.store.invokes.store import open_store
from tests.helpers import db_count, record, wait_for

FAST = {"flush_interval_s": 0.02, "publish_interval_s": 0.05}


def blob_files(workspace: Path) -> list[str]:
    return sorted(p.name for p in InvokePaths(workspace).blobs.rglob("*") if p.is_file())


@pytest.fixture
def writer(workspace: Path) -> Iterator[InvokeWriter]:
    w = InvokeWriter(workspace, **FAST).start()
    yield w
    w.close()


def test_every_field_round_trips_and_an_image_is_stored_once(workspace: Path):
    ts = datetime(2025, 3, 1, 12, 30, 15, 123456, tzinfo=timezone.utc)
    image, other = b"\x89PNG fake image", b"\x89PNG another"
    records = [
        record(0, ts=ts, embedding=[0.5, -1.25, 3.0], input={"age": 39.0, "gap": float("nan"), "city": "oslo"}),
        record(1, route="canary", input="free money, click now", label="spam", scores={"spam": 0.9, "ham": 0.1}),
        record(2, route="shadow", input=image, embedding=None, key_id=None),
        record(3, input=image),
        record(4, input=other, label=None, scores=None),
    ]
    with InvokeWriter(workspace, **FAST) as w:
        for r in records:
            assert w.log(r)
    frame = read_invokes(workspace)

    assert list(frame.columns) == SCHEMA.names
    assert frame["seq"].tolist() == [1, 2, 3, 4, 5]
    assert frame["invoke_id"].tolist() == [r.invoke_id for r in records]
    assert frame["ts"][0] == ts
    assert frame["model"].unique().tolist() == ["income"] and frame["version"].unique().tolist() == [3]
    assert frame["route"].tolist() == ["production", "canary", "shadow", "production", "production"]
    assert frame["content_id"].tolist() == ["c0", "c1", "c2", "c3", "c4"]
    assert json.loads(frame["input_json"][0]) == {"age": 39.0, "gap": None, "city": "oslo"}
    assert json.loads(frame["input_json"][1]) == "free money, click now"
    assert frame["embedding"][0].tolist() == [0.5, -1.25, 3.0] and frame["embedding"][1] is None
    assert frame["label"][1] == "spam" and frame["label"].isna()[4]
    assert json.loads(frame["scores"][1]) == {"spam": 0.9, "ham": 0.1} and frame["scores"].isna()[4]
    assert frame["latency_ms"].tolist() == [1.5] * 5
    assert frame["key_id"][0] == "key-1" and frame["key_id"].isna()[2]

    blobs = frame["input_blob"]
    assert blobs[:2].isna().all() and frame["input_json"][2:].isna().all()
    assert blobs[2] == blobs[3] != blobs[4]
    assert read_blob(workspace, blobs[2]) == image and read_blob(workspace, blobs[4]) == other
    assert blob_files(workspace) == sorted({blobs[2], blobs[4]})
    assert db_count(workspace) == 5


def test_a_bad_record_is_counted_not_raised(workspace: Path):
    with InvokeWriter(workspace, **FAST) as w:
        assert w.log(record(0, route="staging"))  # queued; the writer thread refuses it
        assert w.log({"not": "a record"})  # type: ignore[arg-type]
        assert w.log(record(1))
    assert (w.stats().written, w.stats().failed) == (1, 2)
    assert read_invokes(workspace)["content_id"].tolist() == ["c1"]


def test_a_reader_works_while_the_writer_holds_the_database(writer: InvokeWriter, workspace: Path):
    for i in range(50):
        writer.log(record(i, route="canary" if i % 5 == 0 else "production"))
    wait_for(lambda: len(read_invokes(workspace)) == 50, timeout=30, what="50 rows published while the writer runs")
    assert writer.stats().running
    counts = query_invokes(workspace, "SELECT route, count(*) AS n FROM invokes GROUP BY route ORDER BY route")
    assert counts.to_dict("records") == [{"route": "canary", "n": 10}, {"route": "production", "n": 40}]
    assert read_invokes(workspace, model="other").empty


def test_readers_see_new_rows_while_the_writer_runs_with_the_default_intervals(workspace: Path):
    with InvokeWriter(workspace) as w:  # the default intervals
        # how stale a reader's view can be (docs/invoke-log.md: "at most about 1.3 s") is set by these
        assert w.flush_interval_s + w.publish_interval_s <= 1.3
        # the rows must show up while the writer runs, not only at close(); the deadlines bound a
        # hang on this shared machine, they do not time the writer
        w.log(record(0))
        wait_for(lambda: len(read_invokes(workspace)) == 1, timeout=30, what="the first row to be published")
        w.log(record(1))
        wait_for(lambda: len(read_invokes(workspace)) == 2, timeout=30, what="the second row to be published")
        assert w.stats().running


def test_close_writes_and_publishes_everything(workspace: Path):
    w = InvokeWriter(workspace, flush_interval_s=30, publish_interval_s=30, batch_rows=100_000).start()
    for i in range(3000):
        assert w.log(record(i))
    stats = w.close()
    assert (stats.written, stats.dropped, stats.queue_depth, stats.published_seq) == (3000, 0, 0, 3000)
    assert len(read_invokes(workspace)) == 3000
    assert db_count(workspace) == 3000
    assert not w.log(record(3000)) and w.stats().dropped == 1  # closed: counted, not raised


def test_a_full_queue_drops_and_counts_instead_of_blocking(workspace: Path):
    w = InvokeWriter(workspace, max_queue=10, **FAST)  # not started yet: nothing takes from the queue
    accepted: list[bool] = []
    # in a thread, so that a log() that blocks on the full queue fails the test instead of hanging it
    caller = threading.Thread(target=lambda: accepted.extend(w.log(record(i)) for i in range(25)), daemon=True)
    caller.start()
    caller.join(timeout=30)
    assert not caller.is_alive(), "log() blocked on a full queue"
    assert accepted == [True] * 10 + [False] * 15
    assert (w.stats().dropped, w.stats().queue_depth) == (15, 10)
    w.start()
    assert w.close().written == 10


def test_gc_deletes_old_invokes_and_the_blobs_only_they_use(workspace: Path):
    now = datetime.now(timezone.utc)
    old, new = now - timedelta(days=10), now - timedelta(days=1)
    with InvokeWriter(workspace, **FAST) as w:
        w.log(record(0, ts=old, input=b"only old"))
        w.log(record(1, ts=old, input=b"shared"))
        w.log(record(2, ts=old, input={"row": 1}))
        w.log(record(3, ts=new, input=b"shared"))
        w.log(record(4, ts=new, input=b"only new"))
    result = gc(workspace, default_days=7, now=now)
    assert (result.db_rows, result.published_rows, result.blobs) == (3, 3, 1)
    frame = read_invokes(workspace)
    assert frame["content_id"].tolist() == ["c3", "c4"]
    assert db_count(workspace) == 2
    assert {read_blob(workspace, k) for k in frame["input_blob"]} == {b"shared", b"only new"}
    assert len(blob_files(workspace)) == 2
    assert gc(workspace, default_days=7, now=now).db_rows == 0


def test_gc_while_a_writer_runs_is_carried_out_by_the_writer(writer: InvokeWriter, workspace: Path):
    now = datetime.now(timezone.utc)
    writer.log(record(0, ts=now - timedelta(days=30), input=b"old image"))
    writer.log(record(1, ts=now))
    wait_for(lambda: len(read_invokes(workspace)) == 2, timeout=30, what="both rows to be published")
    result = gc(workspace, default_days=7, now=now, timeout_s=60)
    assert (result.db_rows, result.published_rows, result.blobs) == (1, 1, 1)
    writer.log(record(2))
    wait_for(
        lambda: read_invokes(workspace)["content_id"].tolist() == ["c1", "c2"],
        timeout=30,
        what="the row logged after gc to be published next to the one gc kept",
    )


def test_gc_of_a_workspace_without_invokes_does_nothing(workspace: Path):
    assert gc(workspace, default_days=30).db_rows == 0
    with pytest.raises(UserError, match="default_days"):
        gc(workspace, default_days=-1)


def test_one_writer_per_workspace(writer: InvokeWriter, workspace: Path):
    with pytest.raises(UserError, match="owned by writer"):
        InvokeWriter(workspace, lock_timeout_s=0.1).start()


def test_no_writer_ever_ran_gives_an_empty_frame_with_the_columns(workspace: Path):
    frame = read_invokes(workspace, model="income", since="2025-01-01T00:00:00")
    assert frame.empty and list(frame.columns) == SCHEMA.names
    assert str(frame["ts"].dtype) == "datetime64[us, UTC]"


def test_since_and_until_select_a_window(workspace: Path):
    base = datetime(2025, 6, 1, tzinfo=timezone.utc)
    with InvokeWriter(workspace, **FAST) as w:
        for i in range(5):
            w.log(record(i, ts=base + timedelta(hours=i)))
    window = read_invokes(workspace, since=base + timedelta(hours=1), until=base + timedelta(hours=3))
    assert window["content_id"].tolist() == ["c1", "c2"]


def test_committed_rows_a_crash_left_unpublished_are_published_by_the_next_writer(workspace: Path):
    paths = InvokePaths(workspace)
    with InvokeWriter(workspace, **FAST) as w:
        w.log(record(0))
    con, _ = open_store(paths.db)  # as if the writer committed two more rows and died before publishing
    table = read_invokes(workspace)
    rows = pa.Table.from_pandas(table, preserve_index=False).to_pylist()
    extra = [{**rows[0], "seq": s, "invoke_id": f"late{s}", "ts": datetime(2025, 1, 1)} for s in (2, 3)]
    con.register("late", pa.Table.from_pylist(extra, schema=SCHEMA))
    con.execute("INSERT INTO invokes SELECT * FROM late")
    con.close()
    paths.published.joinpath(".tmp-part-0000000000000004-0000000000000009.parquet").write_bytes(b"half a file")
    assert len(read_invokes(workspace)) == 1  # the temp part is not read

    with InvokeWriter(workspace, **FAST) as w:
        w.log(record(4))
    assert read_invokes(workspace)["seq"].tolist() == [1, 2, 3, 4]
    assert [p.name for p in paths.published.iterdir() if p.name.startswith(".tmp-")] == []


def one_row(seq: int) -> pa.Table:
    row = dict.fromkeys(SCHEMA.names) | {
        "seq": seq,
        "invoke_id": f"i{seq}",
        "ts": datetime(2025, 1, 1),
        "model": "income",
        "version": 1,
        "route": "production",
        "content_id": f"c{seq}",
        "latency_ms": 1.0,
    }
    return pa.Table.from_pylist([row], schema=SCHEMA)


def test_compaction_merges_small_parts_and_readers_never_see_a_row_twice(workspace: Path):
    folder = InvokePaths(workspace).published
    for seq in range(1, 11):
        write_part(folder, one_row(seq))
    # tiny parts stay in the lowest tier: 1-4, then 1-4 with 5..7, then 1-7 with 8..10
    assert compact(folder, CompactPolicy(fan_in=4, base_bytes=1 << 20)) == 3
    assert [(p.first, p.last) for p in list_parts(folder)] == [(1, 10)]
    assert read_invokes(workspace)["seq"].tolist() == list(range(1, 11))

    # a merge cut short after the merged part appeared, before the parts it replaces were deleted
    write_part(folder, one_row(2))
    write_part(folder, one_row(6))
    assert read_invokes(workspace)["seq"].tolist() == list(range(1, 11))
    InvokeWriter(workspace).start().close()  # the next owner deletes them
    assert [(p.first, p.last) for p in list_parts(folder)] == [(1, 10)]


def test_readers_never_see_a_row_twice_or_fail_while_parts_are_merged(workspace: Path, monkeypatch: pytest.MonkeyPatch):
    merges: list[int] = []  # merges made by each of the compactor's passes

    def counted(*args: Any, **kwargs: Any) -> int:
        merges.append(compact(*args, **kwargs))
        return merges[-1]

    monkeypatch.setattr(writer_module, "compact", counted)
    policy = CompactPolicy(fan_in=2, base_bytes=1 << 20)  # merge as often as possible
    reads = i = 0
    with InvokeWriter(workspace, compact_interval_s=0.02, compact_policy=policy, **FAST) as w:
        # log and read until the compactor has merged parts under the readers a few times
        deadline = time.monotonic() + 60
        while reads < 10 or sum(merges) < 5:
            assert time.monotonic() < deadline, f"60 s: {reads} reads, {sum(merges)} merges; the compactor is stuck"
            for _ in range(10):
                w.log(record(i))
                i += 1
            seqs = read_invokes(workspace)["seq"].tolist()
            assert seqs == list(range(1, len(seqs) + 1))
            reads += 1
    assert len(read_invokes(workspace)) == i


def test_seq_never_repeats_after_gc_removed_everything(workspace: Path):
    with InvokeWriter(workspace, **FAST) as w:
        for i in range(3):
            w.log(record(i))
    assert gc(workspace, default_days=0, now=datetime.now(timezone.utc) + timedelta(days=1)).published_rows == 3
    assert read_invokes(workspace).empty
    with InvokeWriter(workspace, **FAST) as w:
        w.log(record(3))
    assert read_invokes(workspace)["seq"].tolist() == [4]


def test_parts_written_before_the_runtime_column_read_with_it_null(workspace: Path):
    """Published parts from before ``runtime`` existed read (and compact) with it null; new invokes
    keep it."""
    import pyarrow.parquet as pq

    from automl.store.invokes.publish import part_name

    published = InvokePaths(workspace).published
    published.mkdir(parents=True, exist_ok=True)
    pq.write_table(one_row(1).drop_columns(["runtime"]), published / part_name(1, 1))
    with InvokeWriter(workspace, **FAST) as w:
        w.log(record(2, runtime="onnx"))
    frame = read_invokes(workspace)
    assert frame["seq"].tolist() == [1, 2]
    assert frame["runtime"].isna()[0] and frame["runtime"][1] == "onnx"
    assert compact(published, CompactPolicy(fan_in=2, base_bytes=1 << 20)) == 1
    assert read_invokes(workspace)["runtime"].tolist()[1] == "onnx"


def test_a_duckdb_store_without_the_runtime_column_gains_it(workspace: Path):
    import duckdb

    from automl.store.invokes.record import DDL

    paths = InvokePaths(workspace)
    paths.db.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(paths.db))
    con.execute(DDL.replace(", runtime VARCHAR", ""))
    con.close()
    store, _ = open_store(paths.db)
    columns = [r[0] for r in store.execute("SELECT column_name FROM (DESCRIBE invokes)").fetchall()]
    store.close()
    assert columns == SCHEMA.names
