"""``build(app) -> LitServer``: our routes on LitServe's app, its `/` and `/info` removed,
``/ready`` and ``/metrics``, and the uvicorn process's lifespan (the core's pipeline started and
stopped) around LitServe's."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any

import litserve as ls
from fastapi import Header, Request
from fastapi.responses import PlainTextResponse
from litserve.utils import WorkerSetupStatus

from automl.plugins.api import ServingApp
from automl_litserve.front import AutomlSpec
from automl_litserve.schema import BODY_DOC, ERRORS, FlagRequest, PredictResponse
from automl_litserve.worker import AutomlAPI


def build(app_: ServingApp) -> ls.LitServer:
    """The server; run it with ``num_api_servers=1``: the invoke writer lives in the one uvicorn
    process."""
    config = app_.settings
    spec = AutomlSpec(app_)
    api = AutomlAPI(spec, app_)
    server = ls.LitServer(
        api,
        accelerator="cpu",
        workers_per_device=config.workers,
        timeout=config.timeout_s,
        max_payload_size=config.max_body_bytes,
        track_requests=False,
        restart_workers=True,  # a worker that dies (OOM, a crash in native code) is replaced
    )
    app = server.app
    app.title = "automl model server"
    # "/" and "/info" (devices, worker count, payload limit) go; /health, /docs, /openapi.json stay
    app.router.routes = [r for r in app.router.routes if getattr(r, "path", None) not in ("/", "/info")]

    async def predict_default(
        request: Request,
        name: str,
        x_api_key: str | None = Header(None),
        x_route_key: str | None = Header(None, description="pins a caller to one side of a canary split"),
        x_flag: str | None = Header(None, description="flags these invokes for review, with this reason"),
    ) -> PredictResponse:
        return await spec.predict(request, name, None, x_api_key, x_route_key, x_flag)  # type: ignore[return-value]

    async def predict_version(
        request: Request,
        name: str,
        version: int,
        x_api_key: str | None = Header(None),
        x_flag: str | None = Header(None, description="flags these invokes for review, with this reason"),
    ) -> PredictResponse:
        return await spec.predict(request, name, version, x_api_key, None, x_flag)  # type: ignore[return-value]

    async def flag_invoke(
        name: str, invoke_id: str, body: FlagRequest | None = None, x_api_key: str | None = Header(None)
    ) -> dict[str, Any]:
        return await spec.flag(name, invoke_id, x_api_key, body.reason if body else None)

    common: dict[str, Any] = dict(
        methods=["POST"], response_model=PredictResponse, responses=ERRORS, openapi_extra=BODY_DOC
    )
    app.add_api_route("/v1/models/{name}/predict", predict_default, **common)
    app.add_api_route("/v1/models/{name}/versions/{version}/predict", predict_version, **common)
    app.add_api_route("/v1/models/{name}/invokes/{invoke_id}/flag", flag_invoke, methods=["POST"], responses=ERRORS)

    async def ready() -> PlainTextResponse:
        workers = dict(server.workers_setup_status or {})
        workers_ready = bool(workers) and all(v == WorkerSetupStatus.READY for v in workers.values())
        ok = spec.pipeline is not None and spec.pipeline.ready(workers_ready)
        return PlainTextResponse("ready" if ok else "not ready", status_code=200 if ok else 503)

    async def metrics() -> PlainTextResponse:
        gauges: dict[str, float] = {}
        try:
            gauges["automl_worker_queue_depth"] = spec.request_queue.qsize()
        except Exception:  # the manager is stopping
            pass
        text = spec.pipeline.metrics_text(gauges) if spec.pipeline is not None else ""
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    app.add_api_route("/ready", ready, methods=["GET"], include_in_schema=False)
    app.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False)

    litserve_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: Any) -> Any:
        spec.start()
        async with litserve_lifespan(a):
            try:
                yield
            finally:
                await spec.stop()  # LitServe's response consumer still runs, so shadow calls finish

    app.router.lifespan_context = lifespan
    return server
