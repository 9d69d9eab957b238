"""Who owns the store: one process at a time holds ``invokes/owner.lock`` (a writer, or gc).

The lock is a flock, so it goes with the process: a writer killed with kill -9 leaves nothing held.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import IO


class OwnerLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    def acquire(self, role: str, timeout_s: float = 0.0) -> bool:
        """Take the lock as ``role`` (writer or gc), waiting up to ``timeout_s``; False if still held."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        file = open(self.path, "a+")
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    file.close()
                    return False
                time.sleep(0.05)
        file.truncate(0)
        file.write(f"{role} {os.getpid()}\n")
        file.flush()
        self._file = file
        return True

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def holder(self) -> str:
        """'writer 1234' or 'gc 1234': who holds it (as far as the holder wrote)."""
        try:
            return self.path.read_text().strip() or "another process"
        except OSError:
            return "another process"
