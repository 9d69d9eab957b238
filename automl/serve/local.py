"""``LocalServer``: ``automl serve`` started as a child process on this machine, for tests,
benchmarks and notebooks: a free port, a wait for ``/health``, and a stop that leaves nothing
running (the supervisor and the server run in sessions of their own; ``kill`` ends both).

    with LocalServer.start(workspace, ["penguins"]) as server:
        Client(server.url, api_key=key).predict("penguins", rows)
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automl.errors import AutomlError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_pids(ppid: int) -> list[int]:
    """Live children of ``ppid`` (Linux ``ps``)."""
    out = subprocess.run(["ps", "-eo", "pid=,ppid=,stat="], capture_output=True, text=True).stdout.splitlines()
    return [int(p) for p, pp, st in (line.split() for line in out) if int(pp) == ppid and not st.startswith("Z")]


def session_pids(sid: int) -> list[int]:
    """Live (not zombie) processes of session ``sid`` (Linux ``ps``)."""
    out = subprocess.run(["ps", "-eo", "pid=,sid=,stat="], capture_output=True, text=True).stdout.splitlines()
    return [int(p) for p, s, st in (line.split() for line in out) if int(s) == sid and not st.startswith("Z")]


class ServerFailed(AutomlError):
    exit_code = 1


@dataclass
class LocalServer:
    proc: subprocess.Popen[bytes]
    port: int
    workspace: Path
    log: Path
    server_pid: int = 0  # the server's main process: the supervisor's child, in a session of its own
    started: float = field(default_factory=time.monotonic)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(
        cls,
        workspace: Path,
        models: list[str],
        log: Path,
        timeout_s: float = 120,
        log_invokes: bool = True,
        **options: Any,
    ) -> LocalServer:
        """Start and wait until ``/health`` answers; ``options`` are ``automl serve`` keys
        (``max_inflight=2``). ``log_invokes=False`` (benchmarks: what logging costs) is no
        command-line key: the supervisor is then called from ``python -c`` with the config."""
        port = int(options.pop("port", 0)) or free_port()
        if not log_invokes:
            code = (
                "import sys, json; from automl.serve.config import ServeConfig; "
                "from automl.serve.supervisor import serve; sys.exit(serve(ServeConfig(**json.loads(sys.argv[1]))))"
            )
            config = {"workspace": str(workspace), "models": list(models), "port": port, "log_invokes": False}
            command = [sys.executable, "-c", code, json.dumps({**config, **options})]
        else:
            command = [sys.executable, "-m", "automl", "serve", f"models=[{','.join(models)}]", f"port={port}"]
            command += [f"workspace={workspace}", *(f"{k}={v}" for k, v in options.items())]
        with log.open("wb") as out:
            proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        server = cls(proc, port, Path(workspace), log)
        try:
            server.wait_healthy(timeout_s)
        except BaseException:
            server.kill()
            raise
        return server

    def wait_healthy(self, timeout_s: float) -> None:
        import http.client

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerFailed(f"automl serve exited with {self.proc.returncode}:\n{self.log.read_text()}")
            if not self.server_pid:
                children = child_pids(self.proc.pid)
                self.server_pid = children[0] if children else 0
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                conn.request("GET", "/health")
                if conn.getresponse().status == 200 and self.server_pid:
                    return
            except OSError:
                pass
            finally:
                conn.close()
            time.sleep(0.2)
        raise ServerFailed(f"no /health in {timeout_s:.0f} s:\n{self.log.read_text()}")

    def processes(self) -> list[int]:
        """Every live process of the supervisor's and the server's sessions."""
        return session_pids(self.proc.pid) + (session_pids(self.server_pid) if self.server_pid else [])

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 60) -> int:
        """Signal the supervisor and wait: its exit code (0 after a clean stop)."""
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout_s)

    def kill(self) -> None:
        """SIGKILL to both sessions: nothing of this server is left running."""
        for pgid in (self.server_pid, self.proc.pid):
            if pgid:
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        self.proc.wait(timeout=10)

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            try:
                self.stop(timeout_s=60)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
