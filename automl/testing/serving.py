"""Fakes for serving tests: the core's pipeline in-process, and a model that answers slowly."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automl.plugins.serving import Job, RequestError
from automl.serve.app import ServingApp
from automl.serve.config import ServeConfig


@dataclass
class Answer:
    """What a backend would send: the status, the body (JSON data) and extra headers."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class InProcessServer:
    """The core's request pipeline and one worker in this process: a serving backend with no
    HTTP, for tests of auth, limits, routing, input checks and invoke records. Use it as a
    context manager (the pipeline's lifespan: the invoke writer starts and stops with it)."""

    def __init__(self, config: ServeConfig) -> None:
        self.app = ServingApp(config)
        self.worker = self.app.worker()
        self.pipeline = self.app.pipeline(self._call_worker)
        self.loop = asyncio.new_event_loop()

    async def _call_worker(self, job: Job) -> dict[str, Any]:
        try:
            return await asyncio.to_thread(self.worker.run, job)
        except RequestError:
            raise
        except Exception as err:  # as a real backend answers a worker's crash
            raise RequestError(500, "internal error while predicting") from err

    def __enter__(self) -> InProcessServer:
        self.worker.setup()
        self.pipeline.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop as a server stops: shadow calls finish, the invoke writer publishes and closes."""
        if not self.loop.is_closed():
            self.loop.run_until_complete(self.pipeline.stop())
            self.loop.close()

    def predict(
        self,
        name: str,
        inputs: list[Any],
        api_key: str | None = None,
        version: int | None = None,
        route_key: str | None = None,
        flag: str | None = None,
    ) -> Answer:
        async def read() -> list[Any]:
            return inputs

        return self._answer(self.pipeline.predict(name, version, api_key, route_key, read, flag))

    def flag(self, name: str, invoke_id: str, api_key: str | None, reason: str | None = None) -> Answer:
        return self._answer(self.pipeline.flag(name, invoke_id, api_key, reason))

    def _answer(self, call: Any) -> Answer:
        try:
            return Answer(200, self.loop.run_until_complete(call))
        except RequestError as err:
            return Answer(err.status, {"detail": err.detail}, dict(err.headers))

    def settle(self) -> None:
        """Let shadow calls started by earlier requests finish."""
        if self.pipeline.shadows:
            self.loop.run_until_complete(asyncio.wait(self.pipeline.shadows))


class SlowModel:
    """A fitted model that waits ``delay_s`` before each prediction; otherwise the model it wraps.
    Picklable by reference (it lives here), so a server's workers can load it."""

    def __init__(self, model: Any, delay_s: float) -> None:
        self.model = model
        self.delay_s = delay_s

    def __getattr__(self, name: str) -> Any:
        if name in ("model", "delay_s"):  # while unpickling, before __dict__ is filled
            raise AttributeError(name)
        return getattr(self.model, name)

    def predict_proba(self, inputs: Any) -> Any:
        time.sleep(self.delay_s)  # the point of this model: a prediction that takes a while
        return self.model.predict_proba(inputs)

    def predict_proba_and_embedding(self, inputs: Any) -> Any:
        time.sleep(self.delay_s)
        return self.model.predict_proba_and_embedding(inputs)


def slowed(workspace: Path, name: str, delay_s: float, into: Path) -> Path:
    """A workspace at ``into`` holding ``name``'s production version of ``workspace`` as a model
    that answers after ``delay_s`` (version 1, production), and the same API keys."""
    import shutil

    from automl.registry.promote import promote
    from automl.registry.store import ModelStore

    source = ModelStore(Path(workspace))
    version = source.rollout(name).production
    if version is None:
        raise ValueError(f"{name} has no production version in {workspace}")
    target = ModelStore(Path(into))
    meta = source.meta(name, version)
    promote(target, name, target.register(name, SlowModel(source.load_model(name, version), delay_s), meta))
    keys = Path(workspace) / "keys.json"
    if keys.exists():
        shutil.copy2(keys, Path(into) / "keys.json")
    return Path(into)


__all__ = ["Answer", "InProcessServer", "SlowModel", "slowed"]
