"""Write a file whole or not at all, and keep it after a crash.

Every writer here does the same four steps: write a temporary file in the target's folder (a
rename is atomic only within one file system), ``fsync`` it (else a power cut can leave the
renamed file empty: the rename may reach the disk before the data), ``os.replace`` it onto the
target (a reader sees the old file or the new, never half of one), then ``fsync`` the folder (else
the rename itself may be lost). Temporary names are unique, so concurrent writers of one target
never share a temp file; the last ``os.replace`` wins. A failed write removes its temp file and
leaves the target as it was.

Temporary files are named ``.tmp-<name>.<random>.tmp``: hidden, and starting with ``TEMP_PREFIX``
so that cleaners (the invoke store's) recognise what a crash left behind.
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

TEMP_PREFIX = ".tmp-"

# fsync on a folder fails with these where the file system cannot sync folders; nothing to do then.
_DIR_SYNC_UNSUPPORTED = frozenset({errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EBADF, errno.EACCES})


def temp_path(target: Path) -> Path:
    """A fresh temporary name beside ``target`` (same folder, hence the same file system)."""
    return target.with_name(f"{TEMP_PREFIX}{target.name}.{secrets.token_hex(8)}.tmp")


def fsync_file(path: Path | str) -> None:
    """Flush a closed file's data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path | str) -> None:
    """Flush a folder's entries (a rename into it) to disk. A no-op where folders cannot be opened
    (Windows: no ``O_DIRECTORY``) or the file system refuses to sync them."""
    flag = getattr(os, "O_DIRECTORY", None)
    if flag is None:
        return
    try:
        fd = os.open(folder, os.O_RDONLY | flag)
    except OSError as err:
        if err.errno in _DIR_SYNC_UNSUPPORTED:
            return
        raise
    try:
        os.fsync(fd)
    except OSError as err:
        if err.errno not in _DIR_SYNC_UNSUPPORTED:
            raise
    finally:
        os.close(fd)


def _create_temp(target: Path, mode: int) -> tuple[int, Path]:
    """Create a new, empty temp file beside ``target``: its open fd and path. ``O_EXCL`` makes the
    name ours alone; ``mode`` is filtered by the umask, as for any new file."""
    for _ in range(100):
        tmp = temp_path(target)
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(target))


def write_with(target: Path | str, write: Callable[[BinaryIO], object], *, mode: int = 0o666) -> None:
    """Atomically and durably replace ``target`` with what ``write`` writes to the open binary
    file it is given: for writers that stream (``np.savez``, ``json.dump`` via a wrapper, ...).

    ``mode`` is the new file's permission bits before the umask (``0o600`` for secrets). If
    ``write`` raises, the temp file is removed, ``target`` is untouched, and the error propagates."""
    target = Path(target)
    fd, tmp = _create_temp(target, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def write_bytes(target: Path | str, data: bytes, *, mode: int = 0o666) -> None:
    """Atomically and durably replace ``target`` with ``data``."""
    write_with(target, lambda f: f.write(data), mode=mode)


def write_text(target: Path | str, text: str, *, encoding: str = "utf-8", mode: int = 0o666) -> None:
    """Atomically and durably replace ``target`` with ``text``, encoded (no newline translation:
    the same bytes on every OS)."""
    write_bytes(target, text.encode(encoding), mode=mode)


@contextmanager
def atomic_path(target: Path | str, *, mode: int = 0o666) -> Iterator[Path]:
    """For libraries that write to a path (``pyarrow.parquet.write_table``): yields a temp path
    beside ``target`` (already created, empty, with ``mode``); write it whole inside the block.
    On success it is fsynced and replaces ``target``, then the folder is fsynced; on an error it is
    removed and ``target`` is untouched.

    The temp name ends in ``.tmp``: a library that appends its own suffix (``np.save`` adds
    ``.npy``, ``np.savez`` ``.npz``) would write elsewhere, so give those ``write_with`` instead."""
    target = Path(target)
    fd, tmp = _create_temp(target, mode)
    os.close(fd)
    try:
        yield tmp
        fsync_file(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)
