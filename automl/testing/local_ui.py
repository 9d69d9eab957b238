"""``LocalUi``: ``automl ui`` started as a child process on this machine, for the page tests and
the benchmark: a free port, a wait (with a deadline) for the address it prints, a stop.

    with LocalUi.start(workspace, log, project="pets", source=folder, labels="[dog,cat]") as ui:
        page.goto(ui.login_url)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automl.errors import AutomlError


class UiFailed(AutomlError):
    exit_code = 1


@dataclass
class LocalUi:
    proc: subprocess.Popen[str]
    url: str  # the review page
    login_url: str
    log: Path

    @property
    def base(self) -> str:
        return self.url.split("/review", 1)[0]

    @classmethod
    def start(cls, workspace: Path, log: Path, timeout_s: float = 60, **options: Any) -> LocalUi:
        """Start ``automl ui port=0 --json`` with ``options`` as its keys; wait for its address."""
        command = [sys.executable, "-m", "automl", "ui", "port=0", f"workspace={workspace}", "--json"]
        command += [f"{k}={v}" for k, v in options.items()]
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        with log.open("w") as err:
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, text=True, env=env,
                                    start_new_session=True)  # fmt: skip
        lines: list[str] = []
        assert proc.stdout is not None
        reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline() if proc.stdout else ""))
        reader.start()
        reader.join(timeout_s)  # the first line is the address, printed once the socket listens
        if not lines or not lines[0].strip():
            proc.kill()
            proc.wait()
            raise UiFailed(f"automl ui printed no address in {timeout_s:.0f} s:\n{log.read_text()}")
        shown = json.loads(lines[0])
        return cls(proc, shown["url"], shown["login_url"], log)

    def stop(self, timeout_s: float = 30) -> int:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout_s
            while self.proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
        return self.proc.wait()

    def __enter__(self) -> LocalUi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
