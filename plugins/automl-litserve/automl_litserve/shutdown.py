"""SIGTERM/SIGINT to the server's main process: uvicorn first, then the workers, then LitServe."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import threading
from typing import Any

log = logging.getLogger("automl.serve")
MONITOR_THREAD = "litserve-monitoring"  # LitServe's worker monitor (litserve.server)


def install_shutdown(server: Any) -> None:
    """Stop LitServe restarting workers, stop uvicorn (it finishes in-flight requests, waits for
    shadow calls and closes the invoke writer in its lifespan), then kill the workers (they
    ignore SIGTERM and hold nothing to flush), then take LitServe's own graceful path
    (KeyboardInterrupt) for the manager."""
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
        stop_worker_restarts(server)
        front = [p for p in mp.active_children() if p.name.startswith("LitServer-")]
        for p in front:
            os.kill(p.pid, signal.SIGTERM)
        for p in front:
            p.join(timeout=35)
        for t in threading.enumerate():
            if t.name == MONITOR_THREAD:  # it checks the event every 2 s; joined before workers die
                t.join(timeout=5)
        workers = [p for p in mp.active_children() if p.name == "inference-worker"]
        for p in workers:
            p.kill()
        for p in workers:
            p.join(timeout=5)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    logging.getLogger("litserve.server").addFilter(_already_stopped)


def _already_stopped(record: logging.LogRecord) -> bool:
    """Drop LitServe's "Already not alive" warning: the handler stopped uvicorn on purpose."""
    return "Already not alive" not in record.getMessage()


def stop_worker_restarts(server: Any) -> None:
    """LitServe's monitor thread restarts dead workers (``restart_workers=True``) until its
    shutdown event is set: set it before the workers are killed on purpose."""
    event = getattr(server, "_shutdown_event", None)
    if event is None:
        return

    def set_event() -> None:
        try:
            event.set()
        except (OSError, EOFError):  # the manager is gone already
            pass

    # From another thread: the main thread's connection to the manager is busy in event.wait()
    # (this handler interrupted it), and a proxy's connection is per thread.
    setter = threading.Thread(target=set_event, name="automl-stop-restarts")
    setter.start()
    setter.join(timeout=5)


def die_with_parent() -> None:
    """Linux: SIGTERM to this process when its parent (``automl serve``) dies, even by SIGKILL."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
