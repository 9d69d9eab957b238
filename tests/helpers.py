"""Helpers that more than one test module needs: waiting for a condition instead of sleeping, a
record for the invoke log, the database's row count, and raw HTTP to a server on 127.0.0.1.

Import them as ``from tests.helpers import wait_for`` (the suite runs as ``python -m pytest`` from
the repository's root, so ``tests`` is importable from the plugins' tests as well)."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pytest

from automl.store.invokes import InvokePaths, InvokeRecord

T = TypeVar("T")


def wait_for(condition: Callable[[], T], *, timeout: float, what: str, interval: float = 0.02) -> T:
    """Poll ``condition()`` until it is truthy and return that value; fail the test, naming
    ``what`` did not happen, if it is still falsy after ``timeout`` seconds.

    On this shared machine a deadline is a bound on a hang, not a measurement: give it room."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


# --- the invoke log ------------------------------------------------------------------------------


def record(i: int = 0, **changes: Any) -> InvokeRecord:
    """An ``InvokeRecord`` of model income v3 whose content id is ``c{i}``; ``changes`` replace fields."""
    fields: dict[str, Any] = {
        "model": "income",
        "version": 3,
        "route": "production",
        "content_id": f"c{i}",
        "input": {"age": 39, "city": "oslo", "n": i},
        "label": "yes",
        "scores": {"yes": 0.75, "no": 0.25},
        "latency_ms": 1.5,
        "key_id": "key-1",
    }
    return InvokeRecord(**{**fields, **changes})


def db_count(workspace: Path, where: str = "true") -> int:
    """Rows in the invoke log's DuckDB file (not the published parts); the writer must be closed."""
    con = duckdb.connect(str(InvokePaths(workspace).db), read_only=True)
    try:
        return con.execute(f"SELECT count(*) FROM invokes WHERE {where}").fetchall()[0][0]
    finally:
        con.close()


# --- raw HTTP to a local server --------------------------------------------------------------------


def request(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
    timeout: float = 60,
) -> tuple[int, dict[str, str], bytes]:
    """One request to 127.0.0.1:``port``: ``body`` is sent as JSON, else ``raw`` as it is. The
    status, the headers (names in lower case) and the body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    try:
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def post(port: int, path: str, raw: bytes, key: str | None, ctype: str = "application/json") -> tuple[int, Any]:
    """POST ``raw`` with an API key (None: without one); the status and the decoded JSON answer."""
    headers = {"Content-Type": ctype} | ({"X-API-Key": key} if key else {})
    status, _, body = request(port, "POST", path, headers=headers, raw=raw)
    return status, json.loads(body or b"null")


def gate_by_score(store: Any, name: str, version: int, score: float, metric: Any) -> tuple[str, int | None]:
    """A run's gate decided by its score against production's stored one (the registry's part of
    the gate; the comparison on the same examples is ``automl.train.gate``'s, tested on its own).
    Returns the alias ``apply_gate`` left and the production version the run compared with."""
    from automl.registry.promote import Verdict, apply_gate

    production = store.rollout(name).production
    better = production is None or metric.better(score, store.meta(name, production).score)
    return apply_gate(store, name, version, Verdict(better, production, f"score {score}")).alias, production
