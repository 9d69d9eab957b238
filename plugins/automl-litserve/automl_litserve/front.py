"""``AutomlSpec``: the uvicorn process's side of the server, an adapter of the core's pipeline.

A LitSpec without endpoints, attached to the one LitAPI only so that LitServe hands this process
its request queue, response buffer and response queue id. The predict routes read the body
(JSON or multipart, LitServe's size limit) and call the core's ``Pipeline.predict``, which does
everything else; ``call_worker`` is the one way into LitServe's inference workers; a
``RequestError`` becomes an ``HTTPException``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable
from typing import Any

from fastapi import HTTPException, Request
from litserve.specs.base import LitSpec
from litserve.utils import LitAPIStatus, ResponseBufferItem
from pydantic import ValidationError

from automl.plugins.api import Pipeline, RequestError, ServingApp
from automl_litserve.schema import PredictRequest

log = logging.getLogger("automl.serve")


class AutomlSpec(LitSpec):
    """Carries LitServe's queue handles into the uvicorn process; registers no endpoint itself."""

    def __init__(self, app: ServingApp) -> None:
        super().__init__()
        self.api_path = "/v1/models"  # only the key of LitServe's request queue; no route is made
        self.app = app
        self.pipeline: Pipeline | None = None  # made in the uvicorn process by start()

    def decode_request(self, request: Any, context_kwargs: Any = None) -> Any:  # AutomlAPI overrides
        return request

    def encode_response(self, output: Any, context_kwargs: Any = None) -> Any:
        return output

    # --- lifespan of the uvicorn process -------------------------------------------------------

    def start(self) -> Pipeline:
        self.pipeline = self.app.pipeline(self.call_worker)
        self.pipeline.start()
        return self.pipeline

    async def stop(self) -> None:
        if self.pipeline is not None:
            await self.pipeline.stop()

    # --- the one call into the inference workers ----------------------------------------------

    async def call_worker(self, job: Any) -> dict[str, Any]:
        uid = uuid.uuid4().hex
        event = asyncio.Event()
        self.response_buffer[uid] = ResponseBufferItem(event=event)
        self.request_queue.put((self.response_queue_id, uid, time.monotonic(), dict(job)))
        try:
            await event.wait()
        except asyncio.CancelledError:  # the pipeline's timeout: forget the answer when it comes
            self.response_buffer.pop(uid, None)
            raise
        response, status = self.response_buffer.pop(uid).response
        if status == LitAPIStatus.ERROR:
            if isinstance(response, HTTPException):  # a RequestError raised in the worker
                raise RequestError(response.status_code, response.detail, response.headers)
            log.error("predict failed in the worker: %r", response)
            raise RequestError(500, "internal error while predicting")
        return response  # type: ignore[no-any-return]

    # --- one request ---------------------------------------------------------------------------

    async def predict(
        self,
        request: Request,
        name: str,
        version: int | None,
        key: str | None,
        route_key: str | None,
        flag: str | None = None,
    ) -> dict[str, Any]:
        assert self.pipeline is not None, "the server's lifespan starts the pipeline"
        return await _http(self.pipeline.predict(name, version, key, route_key, lambda: read_inputs(request), flag))

    async def flag(self, name: str, invoke_id: str, key: str | None, reason: str | None) -> dict[str, Any]:
        assert self.pipeline is not None, "the server's lifespan starts the pipeline"
        return await _http(self.pipeline.flag(name, invoke_id, key, reason))


async def _http(call: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    """The pipeline's answer, or its ``RequestError`` as FastAPI's error response."""
    try:
        return await call
    except RequestError as err:
        raise HTTPException(err.status, err.detail, err.headers or None) from None


async def read_inputs(request: Request) -> list[Any]:
    """The body's inputs: files of a multipart form, or ``{"inputs": [...]}`` as JSON."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        try:
            form = await request.form()
        except HTTPException as err:  # 413 from LitServe's MaxSizeMiddleware
            raise RequestError(err.status_code, err.detail) from None
        except Exception as err:  # python-multipart's parse errors
            raise RequestError(400, f"malformed multipart body: {type(err).__name__}") from None
        files = [v for _, v in form.multi_items() if hasattr(v, "read")]
        if not files:
            raise RequestError(422, "a multipart body needs at least one file field")
        return [await f.read() for f in files]
    try:
        body = await request.json()
    except HTTPException as err:  # 413 from LitServe's MaxSizeMiddleware
        raise RequestError(err.status_code, err.detail) from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RequestError(400, 'malformed JSON body; send {"inputs": [...]}') from None
    except RecursionError:
        raise RequestError(400, "JSON body nested too deeply") from None
    try:
        return PredictRequest.model_validate(body).inputs
    except ValidationError as err:
        raise RequestError(422, json.loads(err.json(include_url=False, include_input=False))) from None
    except RecursionError:
        raise RequestError(422, "inputs nested too deeply") from None
