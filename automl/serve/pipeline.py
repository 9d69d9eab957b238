"""``RequestPipeline``: what every predict request goes through, whatever the HTTP server.

In order: the in-flight limit and draining (503), the model name (404), the API key (401), the
rollout state (routing, or a pinned version: 404), the body (read by the backend: 400/413/422),
images decoded and inputs checked against the task (422), the worker call (504 on timeout), one
invoke record per input through the one ``InvokeWriter``, then a shadow call when the rollout
has one. During an automatic rollout the candidate's and production's labels on the same inputs
and every call's status and latency go to the ``LiveComparison`` that the ``RolloutController``
analyses (``automl.serve.analysis``). Errors are ``RequestError``; the backend turns them into
its framework's responses.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from automl.errors import UserError
from automl.plugins.serving import CallWorker, RequestError
from automl.serve.analysis import LiveComparison, Pair
from automl.serve.config import ServeConfig
from automl.serve.inputs import IMAGE, InputError, decode_images
from automl.serve.metrics import Metrics
from automl.serve.records import make_records
from automl.serve.rollout_cache import RolloutCache
from automl.serve.routing import PINNED, Pick, pick, pinned
from automl.store.invokes.record import InvokeRecord

log = logging.getLogger("automl.serve")
INVOKE_ID = re.compile(r"[0-9a-f]{32}")
MAX_REASON = 500


class RequestPipeline:
    """One per server process; ``start`` in the process that answers requests, ``stop`` after
    the last request (it waits for shadow calls and closes the invoke writer)."""

    def __init__(self, config: ServeConfig, call_worker: CallWorker) -> None:
        self.config = config
        self.call_worker = call_worker
        self.writer: Any = None
        self.inflight = 0
        self.draining = False
        self.shadows: set[asyncio.Task[None]] = set()
        self.metrics = Metrics()
        self.tasks: dict[tuple[str, int], str] = {}
        self.rng = random.Random()
        self.live = LiveComparison()
        self.controller: Any = None

    # --- lifespan ------------------------------------------------------------------------------

    def start(self) -> None:
        from automl.registry.store import ModelStore
        from automl.serve.api_keys import KeyStore
        from automl.store.invokes import InvokeWriter

        ws = Path(self.config.workspace)
        self.keys = KeyStore(ws)
        self.store = ModelStore(ws)
        self.rollouts = RolloutCache(self.store)
        if self.config.log_invokes:
            self.writer = InvokeWriter(ws).start()
        if self.config.rollouts:
            from automl.serve.rollout_controller import RolloutController
            from automl.store.reviews import ReviewStore

            self.controller = RolloutController(self.store, ReviewStore(ws), self.live, self.config.models).start()

    async def stop(self) -> None:
        self.draining = True
        if self.controller is not None:
            await asyncio.to_thread(self.controller.stop)
        if self.shadows:
            await asyncio.wait(self.shadows, timeout=self.config.timeout_s)
        if self.writer is not None:
            stats = self.writer.close()
            log.warning(
                "invoke writer closed (pid %s): %s written, %s dropped, %s failed",
                os.getpid(),
                stats.written,
                stats.dropped,
                stats.failed,
            )

    def ready(self, workers_ready: bool) -> bool:
        """Ready when the workers are, the server is not stopping and invokes can be logged."""
        writing = not self.config.log_invokes or (self.writer is not None and self.writer.stats().running)
        return workers_ready and not self.draining and writing

    def metrics_text(self, gauges: Mapping[str, float]) -> str:
        """Prometheus text: request counters and latencies, plus the backend's ``gauges``."""
        values: dict[str, float] = {"automl_inflight_requests": self.inflight, **gauges}
        if self.writer is not None:
            s = self.writer.stats()
            values.update(
                {
                    "automl_invokes_written": s.written,
                    "automl_invokes_dropped": s.dropped,
                    "automl_invokes_failed": s.failed,
                    "automl_invoke_queue_depth": s.queue_depth,
                }
            )
        return self.metrics.render(values)

    # --- request steps -------------------------------------------------------------------------

    def authorize(self, name: str, key: str | None) -> str:
        if name not in self.config.models:
            raise RequestError(404, f"no model '{name}' is served here")
        try:
            key_id = self.keys.verify(name, key)
        except UserError:
            log.error("keys.json cannot be read; answering 503")
            raise RequestError(503, "keys cannot be checked now", {"Retry-After": "5"}) from None
        if key_id is None:
            raise RequestError(401, "missing or invalid X-API-Key for this model", {"WWW-Authenticate": "ApiKey"})
        return key_id

    def task_of(self, name: str, version: int) -> str:
        key = (name, version)
        if key not in self.tasks:
            self.tasks[key] = self.store.meta(name, version).task
        return self.tasks[key]

    def prepare(self, name: str, version: int, inputs: list[Any]) -> list[Any]:
        """Images as bytes (decoded here, so the invoke log gets the bytes); other inputs as sent."""
        if len(inputs) > self.config.max_inputs:
            raise RequestError(422, f"{len(inputs)} inputs in one request; at most {self.config.max_inputs}")
        if self.task_of(name, version) == IMAGE:
            try:
                return decode_images(inputs)
            except InputError as err:
                raise RequestError(422, str(err)) from None
        if any(isinstance(x, bytes) for x in inputs):
            raise RequestError(422, f"{name} takes JSON inputs, not files")
        return inputs

    async def run_job(self, name: str, version: int, inputs: list[Any]) -> dict[str, Any]:
        job = {"model": name, "version": version, "inputs": inputs}
        try:
            return await asyncio.wait_for(self.call_worker(job), self.config.timeout_s)
        except asyncio.TimeoutError:
            raise RequestError(504, f"{name}:{version} did not answer in {self.config.timeout_s} s") from None

    async def predict(
        self,
        name: str,
        version: int | None,
        api_key: str | None,
        route_key: str | None,
        read_inputs: Callable[[], Awaitable[list[Any]]],
        flag: str | None = None,
    ) -> dict[str, Any]:
        """Answer one predict request; ``flag`` (the caller's reason) puts its invokes forward
        for review."""
        t0 = time.perf_counter()
        status, vlabel, route = 500, "-", "pinned" if version is not None else "-"
        counted = False
        answering: int | None = None
        try:
            if self.draining:
                raise RequestError(503, "the server is stopping", {"Retry-After": "5"})
            if self.inflight >= self.config.max_inflight:
                raise RequestError(503, "too many requests in flight", {"Retry-After": "1"})
            self.inflight += 1
            counted = True
            key_id = self.authorize(name, api_key)
            chosen = self.route(name, version, route_key)
            vlabel, route = str(chosen.version), chosen.route
            answering = chosen.version if chosen.route != PINNED else None
            inputs = self.prepare(name, chosen.version, await read_inputs())
            result = await self.run_job(name, chosen.version, inputs)
            latency_ms = (time.perf_counter() - t0) * 1000
            records = make_records(name, chosen.version, chosen.route, inputs, result, latency_ms, key_id)
            if self.writer is not None:
                for record in records:
                    self.writer.log(record)
            if chosen.shadow is not None and not self.draining:
                self._background(self.run_shadow(name, chosen.shadow, inputs, key_id, records))
            if chosen.compare_with is not None and not self.draining:
                self._background(self.run_comparison(name, chosen.compare_with, inputs, records))
            if flag:
                self._background(self._save_flags(name, [r.invoke_id for r in records], flag, key_id))
            status = 200
            predictions = [
                {
                    "label": r.label,
                    "scores": r.scores,
                    "model": name,
                    "version": chosen.version,
                    "invoke_id": r.invoke_id,
                }
                for r in records
            ]
            return {
                "model": name,
                "version": chosen.version,
                "route": chosen.route,
                "runtime": result.get("runtime", "native"),
                "predictions": predictions,
            }
        except RequestError as err:
            status = err.status
            raise
        finally:
            if counted:
                self.inflight -= 1
            model = name if name in self.config.models else "-"
            seconds = time.perf_counter() - t0
            self.metrics.observe(model, vlabel, route, status, seconds)
            if answering is not None:
                self.live.call(name, answering, status, seconds * 1000)

    def _background(self, work: Any) -> None:
        """Work after the answer (shadow calls, flags): awaited by ``stop``, never failing a caller."""
        task = asyncio.create_task(work)
        self.shadows.add(task)
        task.add_done_callback(self.shadows.discard)

    async def _save_flags(self, name: str, invoke_ids: list[str], reason: str, key_id: str | None) -> None:
        try:
            await self._write_flags(name, invoke_ids, reason, key_id)
        except Exception:  # the answer went out: a flag that cannot be saved is logged
            log.exception("flags of %s could not be saved", name)

    async def flag(self, name: str, invoke_id: str, api_key: str | None, reason: str | None) -> dict[str, Any]:
        """``POST /v1/models/{name}/invokes/{invoke_id}/flag``: a caller flags an invoke later."""
        key_id = self.authorize(name, api_key)
        if not INVOKE_ID.fullmatch(invoke_id):
            raise RequestError(422, f"'{invoke_id}' is not an invoke id (32 hex digits, as predict answered)")
        try:
            await self._write_flags(name, [invoke_id], reason or "flagged", key_id)
        except UserError as err:  # the review database is busy
            raise RequestError(503, f"the flag cannot be saved now ({err})", {"Retry-After": "5"}) from None
        return {"model": name, "invoke_id": invoke_id, "flagged": True}

    async def _write_flags(self, name: str, invoke_ids: list[str], reason: str, key_id: str | None) -> None:
        """Into the review database (its own file; short transactions), off the event loop."""
        from automl.store.reviews import Flag, ReviewStore

        at = datetime.now(timezone.utc).replace(tzinfo=None)
        flags = [Flag(i, name, reason[:MAX_REASON], at, key_id) for i in invoke_ids]
        await asyncio.to_thread(ReviewStore(Path(self.config.workspace)).flag, flags)

    def route(self, name: str, version: int | None, route_key: str | None) -> Pick:
        state = self.rollouts.get(name)  # read for every request: an unreadable state answers 503
        if version is None:
            return pick(state, route_key, self.rng)
        if version in self.store.versions(name):
            return pinned(version)
        raise RequestError(404, f"{name} has no version {version}")

    async def run_shadow(
        self, name: str, version: int, inputs: list[Any], key_id: str, answered: list[InvokeRecord]
    ) -> None:
        t0 = time.perf_counter()
        status = 500
        try:
            inputs = self.prepare(name, version, inputs)
            result = await self.run_job(name, version, inputs)
            latency_ms = (time.perf_counter() - t0) * 1000
            records = make_records(name, version, "shadow", inputs, result, latency_ms, key_id)
            if self.writer is not None:
                for record in records:
                    self.writer.log(record)
            self._compare(name, records, answered)
            status = 200
        except RequestError as err:  # a shadow never fails the caller
            status = err.status
        except Exception:
            log.exception("shadow call of %s:%s failed", name, version)
        finally:
            seconds = time.perf_counter() - t0
            self.metrics.observe(name, str(version), "shadow", status, seconds)
            self.live.call(name, version, status, seconds * 1000)

    async def run_comparison(self, name: str, production: int, inputs: list[Any], answered: list[InvokeRecord]) -> None:
        """Production's labels for the inputs a rollout's canary answered: compared, not logged
        (production did not answer them) and never failing the caller."""
        try:
            result = await self.run_job(name, production, inputs)
            theirs = make_records(name, production, "shadow", inputs, result, 0.0, None)
            self._compare(name, answered, theirs)
        except Exception:  # noqa: BLE001 - the comparison misses one request; the answer went out
            log.warning("comparison call of %s:%s failed", name, production, exc_info=True)

    def _compare(self, name: str, candidate: list[InvokeRecord], production: list[InvokeRecord]) -> None:
        now = time.monotonic()
        for mine, theirs in zip(candidate, production, strict=False):
            self.live.pair(
                name,
                Pair(now, mine.content_id, str(mine.label), str(theirs.label), _confidence(mine), _confidence(theirs)),
            )


def _confidence(record: InvokeRecord) -> float:
    scores = record.scores or {}
    return float(max(scores.values())) if scores else 0.0
