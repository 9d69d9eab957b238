"""A small Python client for ``automl serve``: standard library only, so any process can call a
model without installing torch or the server's dependencies.

    from automl.serve.client import Client
    client = Client("http://127.0.0.1:8000", api_key="amk_...")
    client.predict("penguins", [{"island": "Biscoe", ...}])        # tabular rows
    client.predict("spam_filter", ["win a prize now"])              # texts
    client.predict("dog_classifier", [Path("dog.jpg")])             # images (paths or bytes)

``predict`` returns one ``Prediction`` per input; an answer other than 200 raises ``ServerError``
with the status and the server's message (``retry_after`` set for 503).
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Prediction:
    label: str
    scores: dict[str, float]
    model: str
    version: int
    invoke_id: str
    runtime: str = "native"  # what answered: the version's exported copy (onnx) or the native model


class ServerError(Exception):
    """A non-200 answer: ``status`` and the server's ``detail``."""

    def __init__(self, status: int, detail: Any, retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail
        self.retry_after = retry_after


class Client:
    """Calls one server. ``api_key`` is used for every model, ``api_keys`` per model name (keys
    are per model: ``automl keys add model=NAME``)."""

    def __init__(
        self,
        url: str = "http://127.0.0.1:8000",
        api_key: str | None = None,
        api_keys: Mapping[str, str] | None = None,
        timeout_s: float = 60.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.api_keys = dict(api_keys or {})
        self.timeout_s = timeout_s

    def predict(
        self,
        model: str,
        inputs: Sequence[Any],
        version: int | None = None,
        route_key: str | None = None,
        multipart: bool = False,
        flag: str | None = None,
    ) -> list[Prediction]:
        """Predictions for ``inputs``: row dicts, texts, or images (``bytes`` or ``Path``; sent as
        base64 in JSON, or as multipart file fields with ``multipart=True``). ``flag``, a reason,
        puts these invokes forward for review (``automl sample``)."""
        if isinstance(inputs, str | bytes | Mapping | Path):
            raise TypeError("inputs is a list: one row, text or image per prediction")
        path = f"/v1/models/{_quote(model)}/predict"
        if version is not None:
            path = f"/v1/models/{_quote(model)}/versions/{int(version)}/predict"
        headers = {}
        key = self.api_keys.get(model, self.api_key)
        if key:
            headers["X-API-Key"] = key
        if route_key:
            headers["X-Route-Key"] = route_key
        if flag:
            headers["X-Flag"] = flag
        if multipart:
            body, ctype = _multipart([_image_bytes(x) for x in inputs])
        else:
            body, ctype = json.dumps({"inputs": [_jsonable(x) for x in inputs]}).encode(), "application/json"
        answer = self._call("POST", path, body, {**headers, "Content-Type": ctype})
        runtime = str(answer.get("runtime", "native"))
        return [
            Prediction(p["label"], dict(p["scores"]), p["model"], int(p["version"]), p["invoke_id"], runtime)
            for p in answer["predictions"]
        ]

    def flag(self, model: str, invoke_id: str, reason: str | None = None) -> None:
        """Flag an invoke for review after the fact (a user's report, a business consequence)."""
        headers = {"Content-Type": "application/json"}
        key = self.api_keys.get(model, self.api_key)
        if key:
            headers["X-API-Key"] = key
        path = f"/v1/models/{_quote(model)}/invokes/{_quote(invoke_id)}/flag"
        self._call("POST", path, json.dumps({"reason": reason}).encode(), headers)

    def health(self) -> bool:
        return self._probe("/health")

    def ready(self) -> bool:
        return self._probe("/ready")

    def _probe(self, path: str) -> bool:
        try:
            self._call("GET", path, None, {}, parse=False)
        except (ServerError, OSError):
            return False
        return True

    def _call(self, method: str, path: str, body: bytes | None, headers: dict[str, str], parse: bool = True) -> Any:
        request = urllib.request.Request(self.url + path, data=body, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                data = response.read()
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                detail = json.loads(raw).get("detail", raw.decode(errors="replace"))
            except (ValueError, AttributeError):
                detail = raw.decode(errors="replace")
            raise ServerError(err.code, detail, retry_after_s(err.headers.get("Retry-After"))) from None
        return json.loads(data) if parse else data


def _quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def _image_bytes(item: Any) -> bytes:
    if isinstance(item, Path):
        return item.read_bytes()
    if isinstance(item, bytes | bytearray):
        return bytes(item)
    raise TypeError(f"multipart sends image files: give bytes or a Path, not {type(item).__name__}")


def _jsonable(item: Any) -> Any:
    if isinstance(item, Path | bytes | bytearray):
        return base64.b64encode(_image_bytes(item)).decode("ascii")
    return item


def _multipart(files: list[bytes]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for i, data in enumerate(files):
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{i}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        parts.append(head.encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def retry_after_s(value: str | None) -> float | None:
    """``Retry-After`` in seconds: delay-seconds, or an HTTP date (RFC 9110 10.2.3) as seconds
    from now (0 when past); None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from datetime import datetime, timezone
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": UTC, with no zone information
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
