"""SIGTERM/SIGINT to the server's main process: uvicorn first, then the workers, then LitServe."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
from typing import Any

log = logging.getLogger("automl.serve")


def install_shutdown(server: Any) -> None:
    """Stop uvicorn first (it finishes in-flight requests, waits for shadow calls and closes the
    invoke writer in its lifespan), then kill the workers (they ignore SIGTERM and hold nothing
    to flush), then take LitServe's own graceful path (KeyboardInterrupt) for the manager."""
    main_pid = os.getpid()

    def handler(signum: int, frame: Any) -> None:
        if os.getpid() != main_pid:  # forked children (SyncManager, uvicorn) inherit this handler
            if mp.current_process().name.startswith("SyncManager"):
                return  # the queues live here: outlive a group-wide SIGTERM; LitServe stops it by message
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        front = [p for p in mp.active_children() if p.name.startswith("LitServer-")]
        for p in front:
            os.kill(p.pid, signal.SIGTERM)
        for p in front:
            p.join(timeout=35)
        workers = [p for p in mp.active_children() if p.name == "inference-worker"]
        for p in workers:
            p.kill()
        for p in workers:
            p.join(timeout=5)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def die_with_parent() -> None:
    """Linux: SIGTERM to this process when its parent (``automl serve``) dies, even by SIGKILL."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
