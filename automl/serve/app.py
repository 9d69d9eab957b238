"""``ServingApp``: what ``automl serve`` hands a serving backend (``automl.serve.process`` calls
the backend's factory with one). It builds the core's request pipeline (in the process that
answers HTTP) and inference workers (in the backend's worker processes).
"""

from __future__ import annotations

from dataclasses import dataclass

from automl.errors import UserError
from automl.plugins.serving import CallWorker, ServingBackend
from automl.serve.config import ServeConfig
from automl.serve.pipeline import RequestPipeline
from automl.serve.worker import WorkerModels


@dataclass(frozen=True)
class ServingApp:
    config: ServeConfig

    @property
    def settings(self) -> ServeConfig:
        return self.config

    def pipeline(self, call_worker: CallWorker) -> RequestPipeline:
        return RequestPipeline(self.config, call_worker)

    def worker(self) -> WorkerModels:
        return WorkerModels(self.config)


def serving_backend(name: str) -> ServingBackend:
    """The factory of the serving backend registered as ``name`` (a one-line error if none is)."""
    from automl.plugins.manager import get_plugins

    spec = get_plugins().registries["serving_backend"].get(name)
    if spec.factory is None:
        raise UserError(f"serving backend {name} has no factory to run a server with.")
    return spec.factory  # type: ignore[no-any-return]
