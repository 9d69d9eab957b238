"""``automl serve``: run the serving backend's server process in its own session and stop it cleanly.

The server (for LitServe: a main process, a queue manager, inference workers and one uvicorn
process) runs in a new session, so a Ctrl-C or a group-wide SIGTERM meant for ``automl serve``
reaches only this supervisor, which forwards it as one SIGTERM to the server's main process; the
server then stops uvicorn first (in-flight requests answered and logged, the invoke writer
closed) and its workers after. When the main process has exited, whatever is left of its process
group is killed, so nothing is orphaned. A second Ctrl-C, or ``grace_s`` seconds, kills at once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from automl.errors import AutomlError
from automl.serve.config import ServeConfig


def server_command(config: ServeConfig) -> list[str]:
    """The server's main process (``automl.serve.process``), once the backend is known to exist."""
    from automl.serve.app import serving_backend

    serving_backend(config.backend)
    return [sys.executable, "-m", "automl.serve.process", config.to_json()]


def _kill_group(pgid: int) -> bool:
    try:
        os.killpg(pgid, signal.SIGKILL)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def serve(config: ServeConfig, out: Any = None) -> int:
    """Run until the server stops; 0 after a clean stop on SIGTERM/SIGINT, 1 if it died by itself."""
    out = out or sys.stderr
    command = server_command(config)
    server = subprocess.Popen(command, start_new_session=True)
    stop_at: list[float] = []
    forced: list[str] = []  # why the server was killed rather than stopped

    def forward(signum: int, frame: Any) -> None:
        if not stop_at:
            stop_at.append(time.monotonic() + config.grace_s)
            try:
                server.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
        elif signum == signal.SIGINT:  # a second Ctrl-C: stop waiting
            stop_at[0] = time.monotonic()
            forced.append("a second Ctrl-C")

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    print(
        f"automl serve: {', '.join(config.models)} on http://{config.host}:{config.port} "
        f"(backend {config.backend}, {config.workers} worker(s), pid {server.pid}); Ctrl-C or SIGTERM stops it",
        file=out,
        flush=True,
    )
    try:
        while True:
            try:
                rc = server.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if stop_at and time.monotonic() > stop_at[0]:
                    if not forced:
                        forced.append(f"not stopped within grace_s={config.grace_s:g} s")
                    _kill_group(server.pid)
                    stop_at[0] = float("inf")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _kill_group(server.pid)  # the main is gone: anything left in its group is an orphan
    if stop_at and rc in (0, -signal.SIGTERM):
        print("automl serve: stopped", file=out, flush=True)
        return 0
    if forced:
        raise ServerDied(f"killed ({forced[0]}): requests in flight were not answered; unwritten invokes are lost.")
    raise ServerDied(
        f"the server exited with {rc}{'' if stop_at else ' without being asked to stop'}; see its log above."
    )


class ServerDied(AutomlError):
    exit_code = 1
