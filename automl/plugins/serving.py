"""The contract between the core's request pipeline and a serving backend.

The core owns everything a request goes through (limits, auth, routing by rollout state, input
checks, invoke records, shadow calls, metrics: ``automl.serve``); a serving backend only adapts
it to an HTTP server. ``automl serve`` starts the server process, builds a ``ServingApp`` and calls
the backend's factory with it; the backend runs its server until it is told to stop and returns
the exit code. The pipeline tells the backend how to answer with ``RequestError``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

Job = Mapping[str, Any]
"""What the pipeline asks a worker: ``{"model": NAME, "version": V, "inputs": [...]}``."""
CallWorker = Callable[[Job], Awaitable[dict[str, Any]]]
"""The backend's way to run a job in an inference worker (``RequestError`` passes through)."""


class RequestError(Exception):
    """A request answered with an error: HTTP ``status``, a ``detail`` for the body (text or JSON
    data) and extra headers. Raised by the pipeline and by workers; a backend turns it into its
    framework's error response. Picklable, so it crosses from worker processes."""

    def __init__(self, status: int, detail: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status, detail, dict(headers or {}))
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})

    def __str__(self) -> str:
        return f"{self.status}: {self.detail}"


class ServeSettings(Protocol):
    """The parts of the server config a backend reads (read-only)."""

    @property
    def models(self) -> tuple[str, ...]: ...
    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def workers(self) -> int: ...
    @property
    def timeout_s(self) -> float: ...
    @property
    def max_body_bytes(self) -> int: ...
    @property
    def max_inputs(self) -> int: ...


class Pipeline(Protocol):
    """The front process's side: one per server, started and stopped with it."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def predict(
        self,
        name: str,
        version: int | None,
        api_key: str | None,
        route_key: str | None,
        read_inputs: Callable[[], Awaitable[list[Any]]],
        flag: str | None = None,
    ) -> dict[str, Any]: ...

    async def flag(self, name: str, invoke_id: str, api_key: str | None, reason: str | None) -> dict[str, Any]: ...

    def ready(self, workers_ready: bool) -> bool: ...

    def metrics_text(self, gauges: Mapping[str, float]) -> str: ...


class Worker(Protocol):
    """An inference worker's side: loads the served versions once, then answers jobs."""

    def setup(self) -> None: ...

    def run(self, job: Job) -> dict[str, Any]: ...


class ServingApp(Protocol):
    """What a serving backend's factory receives: the settings and the core's two halves.
    Picklable (it holds only the config), so a backend may hand it to worker processes."""

    @property
    def settings(self) -> ServeSettings: ...

    def pipeline(self, call_worker: CallWorker) -> Pipeline: ...

    def worker(self) -> Worker: ...


class ServingBackend(Protocol):
    """A serving backend's factory: runs the server for ``app`` until it is stopped (SIGTERM or
    SIGINT to the process), then returns the exit code."""

    def __call__(self, app: ServingApp) -> int: ...


__all__: Sequence[str] = [
    "CallWorker", "Job", "Pipeline", "RequestError", "ServeSettings", "ServingApp", "ServingBackend", "Worker",
]  # fmt: skip
