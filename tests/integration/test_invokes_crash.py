"""The invoke log survives what a server can suffer: kill -9 under load, a corrupt database file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from automl.store.invokes import InvokePaths, InvokeWriter, StoreMovedAside, read_invokes
from tests.helpers import record, wait_for

RATE = 1000  # invokes per second

# A stand-in for the server: logs invokes at a steady rate and prints "logged dropped" every 100 ms.
CHILD = """
import sys, time
from automl.store.invokes import InvokeRecord, InvokeWriter

workspace, rate = sys.argv[1], float(sys.argv[2])
writer = InvokeWriter(workspace).start()
print("ready", flush=True)
n, start, report = 0, time.monotonic(), 0.0
while True:
    now = time.monotonic() - start
    while n < int(now * rate):
        writer.log(InvokeRecord(
            model="income", version=1, route="production", content_id=str(n), input={"n": n, "age": 39},
            label="yes", scores={"yes": 0.8, "no": 0.2}, latency_ms=2.0, embedding=[0.1] * 16, key_id="k1",
        ))
        n += 1
    if now >= report:
        print(n, writer.stats().dropped, flush=True)
        report += 0.1
    time.sleep(0.002)  # the pace of the load, not a wait for anything
"""


@pytest.mark.slow
def test_kill_9_under_load_loses_at_most_the_last_second(workspace: Path):
    paths = InvokePaths(workspace)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(workspace), str(RATE)], stdout=subprocess.PIPE, text=True, bufsize=1
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        # another process reads while the child holds the database, which DuckDB would refuse it
        with pytest.raises(duckdb.IOException, match="lock"):
            duckdb.connect(str(paths.db), read_only=True)
        start = time.monotonic()
        seen_while_running = 0
        while True:
            logged, dropped = map(int, child.stdout.readline().split())
            elapsed = time.monotonic() - start
            if not seen_while_running:  # poll (a read per count line) until the child has published rows
                seen_while_running = len(read_invokes(workspace))
                assert seen_while_running or elapsed < 60, "the child published nothing in 60 s of logging"
            elif elapsed >= 2.5:  # 2.5 s of load: the length of the run, not a wait for anything
                child.kill()  # SIGKILL, right after its latest count
                break
    finally:
        child.kill()
        child.wait()
        child.stdout.close()  # type: ignore[union-attr]

    assert dropped == 0 and seen_while_running > 0
    published_at_kill = len(read_invokes(workspace))
    InvokeWriter(workspace).start().close()  # reopen: DuckDB replays its WAL; unpublished rows get published
    frame = read_invokes(workspace)
    stored = len(frame)
    missing = logged - stored
    print(
        f"\nkill -9 after {logged} invokes at {RATE}/s: {stored} stored, {missing} missing "
        f"({missing / RATE * 1000:.0f} ms); readers saw {published_at_kill} before the store was reopened"
    )
    assert 0 <= missing <= RATE * 1.0
    assert frame["content_id"].astype(int).tolist() == list(range(stored))  # only the tail is missing
    assert frame["seq"].is_unique


def test_a_corrupt_database_is_moved_aside_and_a_fresh_one_started(workspace: Path):
    paths = InvokePaths(workspace)
    with InvokeWriter(workspace) as w:
        w.log(record(0))
    garbage = os.urandom(64 * 1024)
    paths.db.write_bytes(garbage)

    with pytest.warns(StoreMovedAside) as caught:
        w = InvokeWriter(workspace).start()
    w.log(record(1))
    w.close()

    (aside,) = paths.root.glob("invokes.broken-*.duckdb")
    message = str(caught[0].message)
    assert str(paths.db) in message and str(aside) in message
    assert aside.read_bytes() == garbage
    assert read_invokes(workspace)["content_id"].tolist() == ["c0", "c1"]  # the published row is kept
    con = duckdb.connect(str(paths.db), read_only=True)
    assert con.execute("SELECT content_id FROM invokes").fetchall() == [("c1",)]
    con.close()


def test_a_corrupt_wal_is_moved_aside_with_its_database(workspace: Path, tmp_path: Path):
    paths = InvokePaths(workspace)
    w = InvokeWriter(workspace, flush_interval_s=0.02).start()
    w.log(record(0))
    wait_for(lambda: w.stats().written >= 1, timeout=30, what="the writer to commit the row")
    # copy the files while the writer is up (what a kill -9 leaves: a database and its WAL), then spoil the WAL
    wal = paths.db.with_name(paths.db.name + ".wal")
    saved = tmp_path / "saved"
    saved.mkdir()
    shutil.copy(paths.db, saved / paths.db.name)
    shutil.copy(wal, saved / wal.name)
    w.close()
    shutil.copy(saved / paths.db.name, paths.db)
    spoilt = bytearray((saved / wal.name).read_bytes())
    spoilt[64:128] = os.urandom(64)
    wal.write_bytes(bytes(spoilt))

    with pytest.warns(StoreMovedAside, match="could not be opened"):
        InvokeWriter(workspace).start().close()
    (aside,) = paths.root.glob("invokes.broken-*.duckdb")
    assert aside.with_name(aside.name + ".wal").read_bytes() == bytes(spoilt)
    assert read_invokes(workspace)["content_id"].tolist() == ["c0"]
