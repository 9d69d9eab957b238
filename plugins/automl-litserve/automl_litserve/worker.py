"""``AutomlAPI``: the inference workers' side. A cache of loaded versions, input checks against the
model (422), predict with the tuned threshold (``automl.serve.predict``)."""

from __future__ import annotations

import signal
import time
from typing import Any

import litserve as ls
from fastapi import HTTPException

from automl.serve.config import ServeConfig


class AutomlAPI(ls.LitAPI):
    def __init__(self, spec: Any, config: ServeConfig) -> None:
        super().__init__(spec=spec)
        self.config = config
        self.sleep_s = float(config.extra.get("sleep_s", 0.0))  # tests: a slow model

    def setup(self, device: Any) -> None:
        # Ctrl-C in a terminal reaches the whole process group, and systemd's control-group kill
        # sends SIGTERM to all: the server's main process decides when a worker stops (it kills
        # the workers once uvicorn has answered every request in flight).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        from automl.registry.store import ModelStore
        from automl.serve.predict import ModelCache

        self.cache = ModelCache(self.config.workspace)
        store = ModelStore(__import__("pathlib").Path(self.config.workspace))
        for name in self.config.models:
            state = store.rollout(name)
            for version in (state.production, state.candidate):
                if version is not None:
                    self.cache.get(name, version)

    def decode_request(self, request: Any, **kwargs: Any) -> Any:
        return request

    def predict(self, job: Any, **kwargs: Any) -> Any:
        from automl.errors import UserError
        from automl.serve.inputs import InputError
        from automl.serve.predict import predict

        if self.sleep_s:
            time.sleep(self.sleep_s)
        try:
            predictor = self.cache.get(job["model"], job["version"])
        except UserError as err:
            raise HTTPException(404, str(err)) from None
        try:
            return predict(predictor, job["inputs"]).to_dict()
        except InputError as err:
            raise HTTPException(422, str(err)) from None
        except UserError as err:  # e.g. the model's own input checks
            raise HTTPException(422, str(err)) from None

    def encode_response(self, output: Any, **kwargs: Any) -> Any:
        return output
