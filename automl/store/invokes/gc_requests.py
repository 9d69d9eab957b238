"""The request a ``gc`` leaves for a running server's writer (the store's owner), and the
answer the writer leaves back: JSON files beside the store, each written whole and durably (``automl.durable``)."""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass
from pathlib import Path

from automl import durable
from automl.errors import UserError
from automl.store.invokes.gc_rules import GcResult, Retention
from automl.store.invokes.layout import InvokePaths

REQUEST_GLOB = "gc-request-*.json"
REQUEST_FORMAT = 2  # 1 (no "format" key) had one "cutoff" for every model


@dataclass(frozen=True)
class GcRequest:
    rules: Retention
    dry_run: bool


def pending_requests(paths: InvokePaths) -> list[Path]:
    return sorted(paths.root.glob(REQUEST_GLOB))


def read_request(request: Path) -> GcRequest:
    """What a ``gc`` asks the writer to do; a ValueError for a request of another automl's format."""
    data = json.loads(request.read_text())
    if data.get("format") != REQUEST_FORMAT:
        raise ValueError(f"gc request format {data.get('format')!r}; this automl reads {REQUEST_FORMAT}")
    return GcRequest(Retention.from_json(data["retention"]), bool(data["dry_run"]))


def answer_request(request: Path, result: GcResult) -> None:
    """Written by the writer, for the ``gc`` that is waiting on ``request``."""
    _write_json(_done(request), {"result": result.to_json()})
    request.unlink(missing_ok=True)


def refuse_request(request: Path, error: BaseException) -> None:
    """Written by the writer when it could not carry out ``request``, so that gc says why at once."""
    with contextlib.suppress(OSError):  # unanswered, gc still learns it was dropped: its request is gone
        _write_json(_done(request), {"error": f"{type(error).__name__}: {error}"})
    with contextlib.suppress(OSError):
        request.unlink(missing_ok=True)


def write_request(paths: InvokePaths, rules: Retention, dry_run: bool) -> Path:
    request = paths.root / f"gc-request-{uuid.uuid4().hex}.json"
    _write_json(request, {"format": REQUEST_FORMAT, "retention": rules.to_json(), "dry_run": dry_run})
    return request


def _done(request: Path) -> Path:
    return request.with_name(request.name.replace("gc-request-", "gc-done-"))


def await_answer(request: Path) -> GcResult | None:
    """The writer's answer, if it has given one; a UserError if it dropped the request unanswered."""
    answer = read_answer(request)
    if answer is None and not request.exists():
        answer = read_answer(request)  # it answers before it removes the request
        if answer is None:
            raise UserError(
                f"the server's invoke writer dropped the gc request {request.name} without an answer "
                "(an older automl?); stop the server and run gc then."
            )
    return answer


def read_answer(request: Path) -> GcResult | None:
    done = _done(request)
    if not done.exists():
        return None
    data = json.loads(done.read_text())
    done.unlink()
    request.unlink(missing_ok=True)  # the writer removes it after answering; do not leave it to chance
    if "error" in data:
        raise UserError(f"the server's invoke writer could not carry out gc: {data['error']}; see the server's log.")
    return GcResult.from_json(data["result"])


def _write_json(path: Path, data: dict[str, object]) -> None:
    durable.write_text(path, json.dumps(data))
