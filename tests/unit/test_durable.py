"""automl.durable: a file is replaced whole or not at all, its data and its folder entry are
fsynced, failed writes leave nothing behind, concurrent writers never tear a file; and the six
writers that use it go through it."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from automl import durable


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(durable.TEMP_PREFIX))


class FsyncLog:
    """Records what each ``os.fsync`` synced: ("dir" | "file", inode), in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self._real = os.fsync

    def __call__(self, fd: int) -> None:
        st = os.fstat(fd)
        self.calls.append(("dir" if stat.S_ISDIR(st.st_mode) else "file", st.st_ino))
        self._real(fd)

    def dirs(self) -> list[int]:
        return [ino for kind, ino in self.calls if kind == "dir"]

    def files(self) -> list[int]:
        return [ino for kind, ino in self.calls if kind == "file"]


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> Iterator[FsyncLog]:
    log = FsyncLog()
    monkeypatch.setattr(os, "fsync", log)
    yield log


# --- the content lands ----------------------------------------------------------------------------


def test_bytes_and_text_land_and_replace_what_was_there(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    durable.write_bytes(target, b"\x00first")
    assert target.read_bytes() == b"\x00first"
    durable.write_bytes(target, b"second")
    assert target.read_bytes() == b"second"

    text = tmp_path / "t.json"
    durable.write_text(text, '{"a": "é"}\n')
    assert text.read_bytes() == '{"a": "é"}\n'.encode()
    assert _leftovers(tmp_path) == []


def test_write_with_streams_into_an_open_binary_file(tmp_path: Path) -> None:
    target = tmp_path / "v.npz"

    def save(f: BinaryIO) -> None:
        np.savez(f, ids=np.asarray(["a", "b"]), vectors=np.eye(2, dtype=np.float32))

    durable.write_with(target, save)
    with np.load(target) as data:
        assert data["ids"].tolist() == ["a", "b"]
        assert data["vectors"].tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.npz"]


def test_atomic_path_hands_a_library_a_temp_path_beside_the_target(tmp_path: Path) -> None:
    target = tmp_path / "t.parquet"
    with durable.atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(durable.TEMP_PREFIX) and tmp.exists()
        assert not target.exists(), "nothing appears before the block ends"
        pq.write_table(pa.table({"x": [1, 2, 3]}), tmp)
    assert pq.read_table(target).column("x").to_pylist() == [1, 2, 3]
    assert _leftovers(tmp_path) == []


def test_the_mode_is_applied_through_the_umask_like_any_new_file(tmp_path: Path) -> None:
    secret = tmp_path / "keys.json"
    durable.write_text(secret, "{}", mode=0o600)
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600

    plain = tmp_path / "plain"
    plain.write_text("x")  # what an ordinary open() creates
    ours = tmp_path / "ours"
    durable.write_text(ours, "x")
    assert stat.S_IMODE(ours.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)


# --- failures leave the old file and no temp file ----------------------------------------------


def test_an_error_mid_write_keeps_the_old_file_and_removes_the_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "f"
    durable.write_bytes(target, b"old contents")

    def half(f: BinaryIO) -> None:
        f.write(b"new but only ha")
        f.flush()
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        durable.write_with(target, half)
    assert target.read_bytes() == b"old contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_an_error_inside_atomic_path_keeps_the_old_file_and_removes_the_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "f"
    durable.write_bytes(target, b"old contents")
    with pytest.raises(KeyError), durable.atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise KeyError("boom")
    assert target.read_bytes() == b"old contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_a_failed_replace_removes_the_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "a-folder"
    (target / "inside").mkdir(parents=True)  # os.replace cannot put a file over a non-empty folder
    with pytest.raises(OSError):
        durable.write_bytes(target, b"x")
    assert _leftovers(tmp_path) == []


# --- concurrent writers ---------------------------------------------------------------------------


def test_concurrent_writers_never_leave_a_torn_file(tmp_path: Path) -> None:
    target = tmp_path / "shared"
    payloads = [bytes([65 + i]) * (256 * 1024 + i) for i in range(8)]  # distinct letters and lengths
    errors: list[BaseException] = []
    seen: list[bytes] = []
    start = threading.Barrier(len(payloads) + 1)
    stop = threading.Event()

    def writer(data: bytes) -> None:
        try:
            start.wait()
            for _ in range(5):
                durable.write_bytes(target, data)
        except BaseException as err:
            errors.append(err)

    def reader() -> None:
        start.wait()
        while not stop.is_set():
            try:
                seen.append(target.read_bytes())
            except FileNotFoundError:
                pass

    threads = [threading.Thread(target=writer, args=(p,)) for p in payloads]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    watcher.join()

    assert errors == []
    assert target.read_bytes() in payloads
    assert all(s in payloads for s in seen), "a reader saw a file that no writer wrote whole"
    assert _leftovers(tmp_path) == []


# --- fsyncs ---------------------------------------------------------------------------------------


def test_the_file_is_synced_before_the_rename_and_the_folder_after(tmp_path: Path, fsyncs: FsyncLog) -> None:
    target = tmp_path / "f"
    durable.write_bytes(target, b"data")
    folder = tmp_path.stat().st_ino
    assert fsyncs.calls == [("file", target.stat().st_ino), ("dir", folder)]


@pytest.mark.parametrize("how", ["bytes", "text", "with", "path"])
def test_every_entry_point_syncs_the_target_folder(tmp_path: Path, fsyncs: FsyncLog, how: str) -> None:
    target = tmp_path / "sub" / "f"
    target.parent.mkdir()
    if how == "bytes":
        durable.write_bytes(target, b"x")
    elif how == "text":
        durable.write_text(target, "x")
    elif how == "with":
        durable.write_with(target, lambda f: f.write(b"x"))
    else:
        with durable.atomic_path(target) as tmp:
            tmp.write_bytes(b"x")
    assert fsyncs.dirs() == [target.parent.stat().st_ino]
    assert fsyncs.files() == [target.stat().st_ino]


def test_no_folder_sync_where_folders_cannot_be_opened(
    tmp_path: Path, fsyncs: FsyncLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(os, "O_DIRECTORY", raising=False)  # as on Windows
    durable.write_bytes(tmp_path / "f", b"x")
    assert (tmp_path / "f").read_bytes() == b"x"
    assert fsyncs.dirs() == [] and len(fsyncs.files()) == 1


def test_a_file_system_that_refuses_folder_syncs_is_tolerated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.fsync

    def picky(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(22, "Invalid argument")
        real(fd)

    monkeypatch.setattr(os, "fsync", picky)
    durable.write_bytes(tmp_path / "f", b"x")
    assert (tmp_path / "f").read_bytes() == b"x"


def test_a_real_folder_sync_error_is_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.fsync

    def failing(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(5, "Input/output error")
        real(fd)

    monkeypatch.setattr(os, "fsync", failing)
    with pytest.raises(OSError, match="Input/output"):
        durable.write_bytes(tmp_path / "f", b"x")


# --- the six writers go through it ---------------------------------------------------------------


def _registry(workspace: Path) -> Path:
    from automl.registry.store import ModelStore

    store = ModelStore(workspace)
    store._model_dir("m").mkdir(parents=True)
    store.set_alias("m", "staging", 3)
    return store._model_dir("m") / "aliases.json"


def _api_keys(workspace: Path) -> Path:
    from automl.serve.api_keys import KeyStore

    keys = KeyStore(workspace)
    keys.add("m")
    return keys.path


def _embeddings(workspace: Path) -> Path:
    from automl.features.embeddings import EmbeddingCache

    cache = EmbeddingCache(workspace, "backbone@1")
    cache.store(["a"], np.ones((1, 2)))
    return next(cache.folder.glob("shard-*.npz"))


def _blobs(workspace: Path) -> Path:
    from automl.store.invokes.blobs import blob_path, put_blob

    return blob_path(workspace, put_blob(workspace, b"an image"))


def _gc_requests(workspace: Path) -> Path:
    from automl.store.invokes.gc_requests import write_request
    from automl.store.invokes.gc_rules import Retention
    from automl.store.invokes.layout import InvokePaths

    paths = InvokePaths(workspace)
    paths.root.mkdir(parents=True, exist_ok=True)
    return write_request(paths, Retention({}, 30.0, datetime(2024, 1, 1)), dry_run=True)


def _publish(workspace: Path) -> Path:
    from automl.store.invokes.publish import write_part
    from automl.store.invokes.record import SCHEMA

    table = pa.table({f.name: pa.nulls(2, f.type) for f in SCHEMA}).set_column(
        SCHEMA.get_field_index("seq"), "seq", pa.array([1, 2], SCHEMA.field("seq").type)
    )
    return write_part(workspace / "published", table).path


def _compact(workspace: Path) -> Path:
    from automl.store.invokes.compact import merge
    from automl.store.invokes.publish import write_part
    from automl.store.invokes.record import SCHEMA

    def part(first: int) -> pa.Table:
        seq = pa.array([first, first + 1], SCHEMA.field("seq").type)
        return pa.table({f.name: pa.nulls(2, f.type) for f in SCHEMA}).set_column(
            SCHEMA.get_field_index("seq"), "seq", seq
        )

    folder = workspace / "published"
    return merge(folder, [write_part(folder, part(1)), write_part(folder, part(3))]).path


@pytest.mark.parametrize("write", [_registry, _api_keys, _embeddings, _blobs, _gc_requests, _publish, _compact])
def test_each_writer_syncs_its_file_and_folder(tmp_path: Path, fsyncs: FsyncLog, write: Callable[[Path], Path]) -> None:
    written = write(tmp_path)
    assert written.is_file()
    assert written.stat().st_ino in fsyncs.files(), "the file was not synced before its rename"
    assert written.parent.stat().st_ino in fsyncs.dirs(), "the folder was not synced after the rename"
    assert _leftovers(written.parent) == []
