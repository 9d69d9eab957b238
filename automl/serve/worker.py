"""``WorkerModels``: an inference worker's side of the server. Loads the served models' production
and candidate versions once, then answers jobs with the version's own decision rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from automl.errors import UserError
from automl.plugins.serving import Job, RequestError
from automl.serve.config import ServeConfig
from automl.serve.inputs import InputError
from automl.serve.predict import ModelCache, predict


class WorkerModels:
    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.cache = ModelCache(config.workspace, runtime=config.runtime, workers=config.workers)

    def setup(self) -> None:
        from automl.registry.store import ModelStore

        store = ModelStore(Path(self.config.workspace))
        for name in self.config.models:
            state = store.rollout(name)
            for version in (state.production, state.candidate):
                if version is not None:
                    self.cache.get(name, version)

    def run(self, job: Job) -> dict[str, Any]:
        try:
            predictor = self.cache.get(job["model"], job["version"])
        except UserError as err:
            raise RequestError(404, str(err)) from None
        try:
            return predict(predictor, job["inputs"]).to_dict()
        except (InputError, UserError) as err:  # UserError: e.g. the model's own input checks
            raise RequestError(422, str(err)) from None
