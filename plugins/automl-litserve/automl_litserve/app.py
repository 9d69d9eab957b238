"""``build(config) -> LitServer``: our routes on LitServe's app, its `/` and `/info` removed,
``/ready`` and ``/metrics``, and the uvicorn process's lifespan around LitServe's."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any

import litserve as ls
from fastapi import Header, Request
from fastapi.responses import PlainTextResponse
from litserve.utils import WorkerSetupStatus

from automl.serve.config import ServeConfig
from automl_litserve.front import AutomlSpec
from automl_litserve.schema import BODY_DOC, ERRORS, PredictResponse
from automl_litserve.worker import AutomlAPI


def build(config: ServeConfig) -> ls.LitServer:
    if config.extra.get("num_api_servers", 1) != 1:
        raise ValueError("the invoke writer lives in the one uvicorn process: num_api_servers must be 1")
    spec = AutomlSpec(config)
    api = AutomlAPI(spec, config)
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
    ) -> PredictResponse:
        return await spec.predict(request, name, None, x_api_key, x_route_key)  # type: ignore[return-value]

    async def predict_version(
        request: Request, name: str, version: int, x_api_key: str | None = Header(None)
    ) -> PredictResponse:
        return await spec.predict(request, name, version, x_api_key, None)  # type: ignore[return-value]

    common: dict[str, Any] = dict(
        methods=["POST"], response_model=PredictResponse, responses=ERRORS, openapi_extra=BODY_DOC
    )
    app.add_api_route("/v1/models/{name}/predict", predict_default, **common)
    app.add_api_route("/v1/models/{name}/versions/{version}/predict", predict_version, **common)

    async def ready() -> PlainTextResponse:
        workers = dict(server.workers_setup_status or {})
        ok = bool(workers) and all(v == WorkerSetupStatus.READY for v in workers.values())
        # with log_invokes off (benchmarks only) there is no writer to require
        writing = not spec.log_invokes or (spec.writer is not None and spec.writer.stats().running)
        ok = ok and not spec.draining and writing
        return PlainTextResponse("ready" if ok else "not ready", status_code=200 if ok else 503)

    async def metrics() -> PlainTextResponse:
        gauges: dict[str, float] = {"automl_inflight_requests": spec.inflight}
        try:
            gauges["automl_worker_queue_depth"] = spec.request_queue.qsize()
        except Exception:  # the manager is stopping
            pass
        if spec.writer is not None:
            s = spec.writer.stats()
            gauges.update(
                {
                    "automl_invokes_written": s.written,
                    "automl_invokes_dropped": s.dropped,
                    "automl_invokes_failed": s.failed,
                    "automl_invoke_queue_depth": s.queue_depth,
                }
            )
        return PlainTextResponse(spec.metrics.render(gauges), media_type="text/plain; version=0.0.4")

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
