"""``AutomlAPI``: LitServe's inference workers run the core's ``Worker`` (``ServingApp.worker``)."""

from __future__ import annotations

import signal
from typing import Any

import litserve as ls
from fastapi import HTTPException

from automl.plugins.api import RequestError, ServingApp


class AutomlAPI(ls.LitAPI):
    def __init__(self, spec: Any, app: ServingApp) -> None:
        super().__init__(spec=spec)
        self.app = app

    def setup(self, device: Any) -> None:
        # Ctrl-C in a terminal reaches the whole process group, and systemd's control-group kill
        # sends SIGTERM to all: the server's main process decides when a worker stops (it kills
        # the workers once uvicorn has answered every request in flight).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        self.worker = self.app.worker()
        self.worker.setup()

    def decode_request(self, request: Any, **kwargs: Any) -> Any:
        return request

    def predict(self, job: Any, **kwargs: Any) -> Any:
        try:
            return self.worker.run(job)
        except RequestError as err:  # LitServe hands an HTTPException back to the front as is
            raise HTTPException(err.status, err.detail, err.headers or None) from None

    def encode_response(self, output: Any, **kwargs: Any) -> Any:
        return output
