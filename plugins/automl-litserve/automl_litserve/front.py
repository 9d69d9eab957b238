"""``AutomlSpec``: the uvicorn process's side of the server.

A LitSpec without endpoints, attached to the one LitAPI only so that LitServe hands this process
its request queue, response buffer and response queue id. Our predict routes call ``predict``:
in-flight limit (503), model name (404), ``KeyStore.verify`` (401), rollout (routing), version
(404), body (400/413/422), the worker call, one invoke record per input through the one
``InvokeWriter`` (started and closed by this process's lifespan), shadow calls.

``ServeConfig.extra["log_invokes"] = False`` (default True) is for benchmarks only (the cost of
logging, ``bench/bench_serve.py``): no writer is started and no record is logged; the answers are
the same (records are still made, for their invoke ids).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import time
import uuid
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request
from litserve.specs.base import LitSpec
from litserve.utils import LitAPIStatus, ResponseBufferItem
from pydantic import ValidationError

from automl.serve.config import ServeConfig
from automl.serve.inputs import IMAGE, InputError, decode_images
from automl.serve.metrics import Metrics
from automl.serve.records import make_records
from automl.serve.routing import Pick, pick, pinned
from automl_litserve.schema import PredictRequest

log = logging.getLogger("automl.serve")


class RolloutCache:
    """``rollout.json`` read again when the file changes (keyed on inode, mtime and size: every
    write replaces the file). A damaged file keeps the last good state (and is logged once)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._cache: dict[str, tuple[tuple[int, int, int], Any]] = {}

    def get(self, name: str) -> Any:
        path = Path(self.store.root) / name / "rollout.json"
        try:
            st = path.stat()
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = (-1, -1, -1)
        hit = self._cache.get(name)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        from automl.errors import UserError

        try:
            state = self.store.rollout(name)
        except UserError as err:
            if hit is None:
                raise HTTPException(503, f"the rollout state of {name} cannot be read") from None
            log.error("keeping the last good rollout state of %s: %s", name, err)
            self._cache[name] = (stamp, hit[1])
            return hit[1]
        self._cache[name] = (stamp, state)
        return state


class AutomlSpec(LitSpec):
    """Carries LitServe's queue handles into the uvicorn process; registers no endpoint itself."""

    def __init__(self, config: ServeConfig) -> None:
        super().__init__()
        self.api_path = "/v1/models"  # only the key of LitServe's request queue; no route is made
        self.config = config
        # set in the uvicorn process by start(); workers are spawned before, so never pickled
        self.writer: Any = None
        self.log_invokes = bool(config.extra.get("log_invokes", True))  # benchmarks: the cost of logging
        self.inflight = 0
        self.draining = False
        self.shadows: set[asyncio.Task[None]] = set()
        self.metrics = Metrics()
        self.tasks: dict[tuple[str, int], str] = {}

    def decode_request(self, request: Any, context_kwargs: Any = None) -> Any:  # AutomlAPI overrides
        return request

    def encode_response(self, output: Any, context_kwargs: Any = None) -> Any:
        return output

    # --- lifespan of the uvicorn process -------------------------------------------------------

    def start(self) -> None:
        from automl.registry.store import ModelStore
        from automl.serve.api_keys import KeyStore
        from automl.store.invokes import InvokeWriter

        ws = Path(self.config.workspace)
        self.keys = KeyStore(ws)
        self.store = ModelStore(ws)
        self.rollouts = RolloutCache(self.store)
        self.rng = random.Random()
        if self.log_invokes:
            self.writer = InvokeWriter(ws).start()

    async def stop(self) -> None:
        self.draining = True
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

    # --- the one call into the inference workers ----------------------------------------------

    async def call_worker(self, job: dict[str, Any]) -> dict[str, Any]:
        uid = uuid.uuid4().hex
        event = asyncio.Event()
        self.response_buffer[uid] = ResponseBufferItem(event=event)
        self.request_queue.put((self.response_queue_id, uid, time.monotonic(), job))
        try:
            await asyncio.wait_for(event.wait(), self.config.timeout_s)
        except asyncio.TimeoutError:
            self.response_buffer.pop(uid, None)
            raise HTTPException(
                504, f"{job['model']}:{job['version']} did not answer in {self.config.timeout_s} s"
            ) from None
        response, status = self.response_buffer.pop(uid).response
        if status == LitAPIStatus.ERROR:
            if isinstance(response, HTTPException):  # raised in the worker; LitServe keeps its status
                raise response
            log.error("predict failed in the worker: %r", response)
            raise HTTPException(500, "internal error while predicting")
        return response

    # --- request steps ---------------------------------------------------------------------

    def authorize(self, name: str, key: str | None) -> str:
        if name not in self.config.models:
            raise HTTPException(404, f"no model '{name}' is served here")
        from automl.errors import UserError

        try:
            key_id = self.keys.verify(name, key)
        except UserError:
            log.error("keys.json cannot be read; answering 503")
            raise HTTPException(503, "keys cannot be checked now", headers={"Retry-After": "5"}) from None
        if key_id is None:
            raise HTTPException(
                401, "missing or invalid X-API-Key for this model", headers={"WWW-Authenticate": "ApiKey"}
            )
        return key_id

    def task_of(self, name: str, version: int) -> str:
        key = (name, version)
        if key not in self.tasks:
            self.tasks[key] = str(self.store.meta(name, version).get("task", "tabular_classification"))
        return self.tasks[key]

    async def read_inputs(self, request: Request) -> list[Any]:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("multipart/form-data"):
            try:
                form = await request.form()
            except HTTPException:
                raise  # 413 from LitServe's MaxSizeMiddleware
            except Exception as err:  # python-multipart's parse errors
                raise HTTPException(400, f"malformed multipart body: {type(err).__name__}") from None
            files = [v for _, v in form.multi_items() if hasattr(v, "read")]
            if not files:
                raise HTTPException(422, "a multipart body needs at least one file field")
            inputs: list[Any] = [await f.read() for f in files]
        else:
            try:
                body = await request.json()
            except HTTPException:
                raise  # 413 from LitServe's MaxSizeMiddleware
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise HTTPException(400, 'malformed JSON body; send {"inputs": [...]}') from None
            except RecursionError:
                raise HTTPException(400, "JSON body nested too deeply") from None
            try:
                inputs = PredictRequest.model_validate(body).inputs
            except ValidationError as err:
                raise HTTPException(422, json.loads(err.json(include_url=False, include_input=False))) from None
            except RecursionError:
                raise HTTPException(422, "inputs nested too deeply") from None
        if len(inputs) > self.config.max_inputs:
            raise HTTPException(422, f"{len(inputs)} inputs in one request; at most {self.config.max_inputs}")
        return inputs

    def _prepare(self, name: str, version: int, inputs: list[Any]) -> list[Any]:
        """Images as bytes (decoded here, so the invoke log gets the bytes); other inputs as sent."""
        if self.task_of(name, version) == IMAGE:
            try:
                return decode_images(inputs)
            except InputError as err:
                raise HTTPException(422, str(err)) from None
        if any(isinstance(x, bytes) for x in inputs):
            raise HTTPException(422, f"{name} takes JSON inputs, not files")
        return inputs

    async def predict(
        self, request: Request, name: str, version: int | None, key: str | None, route_key: str | None
    ) -> dict[str, Any]:
        t0 = time.perf_counter()
        status, vlabel, route = 500, "-", "pinned" if version is not None else "-"
        counted = False
        try:
            if self.draining:
                raise HTTPException(503, "the server is stopping", headers={"Retry-After": "5"})
            if self.inflight >= self.config.max_inflight:
                raise HTTPException(503, "too many requests in flight", headers={"Retry-After": "1"})
            self.inflight += 1
            counted = True
            key_id = self.authorize(name, key)
            state = self.rollouts.get(name)
            chosen: Pick
            if version is None:
                chosen = pick(state, route_key, self.rng)
            elif version in self.store.versions(name):
                chosen = pinned(version)
            else:
                raise HTTPException(404, f"{name} has no version {version}")
            vlabel, route = str(chosen.version), chosen.route
            inputs = self._prepare(name, chosen.version, await self.read_inputs(request))
            result = await self.call_worker({"model": name, "version": chosen.version, "inputs": inputs})
            latency_ms = (time.perf_counter() - t0) * 1000
            records = make_records(name, chosen.version, chosen.route, inputs, result, latency_ms, key_id)
            if self.log_invokes:
                for record in records:
                    self.writer.log(record)
            if chosen.shadow is not None and not self.draining:
                task = asyncio.create_task(self.run_shadow(name, chosen.shadow, inputs, key_id))
                self.shadows.add(task)
                task.add_done_callback(self.shadows.discard)
            status = 200
            return {
                "model": name,
                "version": chosen.version,
                "route": chosen.route,
                "predictions": [
                    {
                        "label": r.label,
                        "scores": r.scores,
                        "model": name,
                        "version": chosen.version,
                        "invoke_id": r.invoke_id,
                    }
                    for r in records
                ],
            }
        except HTTPException as err:
            status = err.status_code
            raise
        finally:
            if counted:
                self.inflight -= 1
            model = name if name in self.config.models else "-"
            self.metrics.observe(model, vlabel, route, status, time.perf_counter() - t0)

    async def run_shadow(self, name: str, version: int, inputs: list[Any], key_id: str) -> None:
        t0 = time.perf_counter()
        status = 500
        try:
            inputs = self._prepare(name, version, inputs)
            result = await self.call_worker({"model": name, "version": version, "inputs": inputs})
            latency_ms = (time.perf_counter() - t0) * 1000
            if self.log_invokes:
                for record in make_records(name, version, "shadow", inputs, result, latency_ms, key_id):
                    self.writer.log(record)
            status = 200
        except HTTPException as err:  # a shadow never fails the caller
            status = err.status_code
        except Exception:
            log.exception("shadow call of %s:%s failed", name, version)
        finally:
            self.metrics.observe(name, str(version), "shadow", status, time.perf_counter() - t0)
