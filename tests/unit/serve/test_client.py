"""``automl.serve.client`` against a tiny in-process HTTP server (a thread on 127.0.0.1) that
answers as ``automl serve`` does: predictions, 401 with a message, 503 with Retry-After, 422 with
pydantic's error list, plain-text bodies, probes."""

from __future__ import annotations

import base64
import email.parser
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from automl.serve.client import Client, Prediction, ServerError


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list: sent as JSON; bytes/str: sent as is
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case (HTTP header names are case-insensitive)
    body: bytes


class FakeServer:
    """Answers each request with ``reply(method, path)`` and records what it was sent."""

    def __init__(self) -> None:
        self.replies: dict[tuple[str, str], Reply] = {}
        self.seen: list[Seen] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fake.seen.append(Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                reply = fake.replies.get((self.command, self.path)) or Reply(404, {"detail": "Not Found"})
                if reply.delay_s:
                    time.sleep(reply.delay_s)  # a slow server on purpose (the timeout test)
                if isinstance(reply.body, dict | list):
                    data, ctype = json.dumps(reply.body).encode(), "application/json"
                elif isinstance(reply.body, str):
                    data, ctype = reply.body.encode(), "text/plain; charset=utf-8"
                else:
                    data, ctype = reply.body or b"", "application/octet-stream"
                self.send_response(reply.status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                    pass

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:  # keep pytest's output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def on(self, method: str, path: str, reply: Reply) -> None:
        self.replies[(method, path)] = reply


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer()
    fake.thread.start()
    try:
        yield fake
    finally:
        fake.httpd.shutdown()
        fake.httpd.server_close()
        fake.thread.join(5)


def predictions(model: str, version: int, labels: list[str]) -> dict[str, Any]:
    """A 200 body as the server writes it."""
    return {
        "model": model,
        "version": version,
        "route": "production",
        "predictions": [
            {
                "label": label,
                "scores": {"a": 0.75 if label == "a" else 0.25, "b": 0.25 if label == "a" else 0.75},
                "model": model,
                "version": version,
                "invoke_id": f"inv-{i}",
            }
            for i, label in enumerate(labels)
        ],
    }


# --- success ------------------------------------------------------------------------------------


def test_predict_sends_rows_with_the_key_and_returns_predictions(server: FakeServer) -> None:
    server.on("POST", "/v1/models/penguins/predict", Reply(200, predictions("penguins", 3, ["a", "b"])))
    client = Client(server.url + "/", api_key="amk_secret")
    rows = [{"island": "Biscoe", "mass": 4200.0}, {"island": "Dream", "mass": None}]
    result = client.predict("penguins", rows)
    assert result == [
        Prediction("a", {"a": 0.75, "b": 0.25}, "penguins", 3, "inv-0"),
        Prediction("b", {"a": 0.25, "b": 0.75}, "penguins", 3, "inv-1"),
    ]
    assert isinstance(result[0].version, int)
    [seen] = server.seen
    assert seen.method == "POST" and seen.path == "/v1/models/penguins/predict"  # no double slash
    assert seen.headers["x-api-key"] == "amk_secret"
    assert seen.headers["content-type"] == "application/json"
    assert "x-route-key" not in seen.headers
    assert json.loads(seen.body) == {"inputs": rows}


def test_a_pinned_version_a_route_key_and_a_per_model_key(server: FakeServer) -> None:
    server.on("POST", "/v1/models/spam/versions/2/predict", Reply(200, predictions("spam", 2, ["a"])))
    server.on("POST", "/v1/models/spam/predict", Reply(200, predictions("spam", 5, ["b"])))
    client = Client(server.url, api_key="amk_default", api_keys={"spam": "amk_spam"})
    assert client.predict("spam", ["win a prize"], version=2)[0].version == 2
    assert client.predict("spam", ["hello"], route_key="user-7")[0].version == 5
    pinned, routed = server.seen
    assert pinned.path == "/v1/models/spam/versions/2/predict"
    assert pinned.headers["x-api-key"] == "amk_spam" and "x-route-key" not in pinned.headers
    assert routed.headers["x-route-key"] == "user-7" and routed.headers["x-api-key"] == "amk_spam"
    assert json.loads(routed.body) == {"inputs": ["hello"]}


def test_no_key_sends_no_header_and_names_are_quoted(server: FakeServer) -> None:
    server.on("POST", "/v1/models/a%2Fb%20c/predict", Reply(200, predictions("a/b c", 1, [])))
    assert Client(server.url).predict("a/b c", []) == []
    assert Client(server.url, api_key="").predict("a/b c", []) == []
    for seen in server.seen:
        assert seen.path == "/v1/models/a%2Fb%20c/predict"
        assert "x-api-key" not in seen.headers


def test_images_go_as_base64_in_json_or_as_multipart_files(server: FakeServer, tmp_path: Path) -> None:
    server.on("POST", "/v1/models/dogs/predict", Reply(200, predictions("dogs", 1, ["a", "b"])))
    photo = tmp_path / "dog.jpg"
    photo.write_bytes(b"\xff\xd8\xff jpeg bytes")
    raw = b"\x89PNG\r\n\x1a\n png bytes \r\n--not-a-boundary"
    client = Client(server.url, api_key="k")
    client.predict("dogs", [photo, raw])
    client.predict("dogs", [photo, bytearray(raw)], multipart=True)
    as_json, as_multipart = server.seen
    assert json.loads(as_json.body) == {
        "inputs": [base64.b64encode(photo.read_bytes()).decode(), base64.b64encode(raw).decode()]
    }
    ctype = as_multipart.headers["content-type"]
    assert ctype.startswith("multipart/form-data; boundary=")
    message = email.parser.BytesParser().parsebytes(f"Content-Type: {ctype}\r\n\r\n".encode() + as_multipart.body)
    parts = message.get_payload()
    assert [p.get_param("name", header="content-disposition") for p in parts] == ["image", "image"]
    assert [p.get_payload(decode=True) for p in parts] == [photo.read_bytes(), raw]


def test_inputs_must_be_a_list_and_multipart_takes_only_images(server: FakeServer) -> None:
    client = Client(server.url)
    for single in ("one text", b"bytes", {"a": 1}, Path("x.jpg")):
        with pytest.raises(TypeError, match="inputs is a list"):
            client.predict("m", single)
    with pytest.raises(TypeError, match="give bytes or a Path, not str"):
        client.predict("m", ["a text"], multipart=True)
    assert server.seen == []  # nothing was sent


# --- errors -------------------------------------------------------------------------------------


def test_401_raises_server_error_with_the_servers_message(server: FakeServer) -> None:
    detail = "missing or invalid X-API-Key for this model"
    server.on("POST", "/v1/models/m/predict", Reply(401, {"detail": detail}, {"WWW-Authenticate": "ApiKey"}))
    with pytest.raises(ServerError) as info:
        Client(server.url, api_key="wrong").predict("m", [{"x": 1}])
    err = info.value
    assert err.status == 401 and err.detail == detail and err.retry_after is None
    assert str(err) == f"HTTP 401: {detail}"


@pytest.mark.parametrize(("header", "seconds"), [("1", 1.0), ("5", 5.0), ("0.5", 0.5)])
def test_503_carries_retry_after(server: FakeServer, header: str, seconds: float) -> None:
    server.on(
        "POST", "/v1/models/m/predict", Reply(503, {"detail": "too many requests in flight"}, {"Retry-After": header})
    )
    with pytest.raises(ServerError) as info:
        Client(server.url).predict("m", [{"x": 1}])
    assert info.value.status == 503 and info.value.retry_after == seconds
    assert info.value.detail == "too many requests in flight"


def test_503_without_retry_after(server: FakeServer) -> None:
    server.on("POST", "/v1/models/m/predict", Reply(503, {"detail": "stopping"}))
    with pytest.raises(ServerError) as info:
        Client(server.url).predict("m", [1])
    assert info.value.retry_after is None


def test_422_keeps_the_validation_errors_as_sent(server: FakeServer) -> None:
    errors = [{"type": "missing", "loc": ["inputs"], "msg": "Field required"}]
    server.on("POST", "/v1/models/m/predict", Reply(422, {"detail": errors}))
    with pytest.raises(ServerError) as info:
        Client(server.url).predict("m", [{"x": 1}])
    assert info.value.status == 422 and info.value.detail == errors
    server.on("POST", "/v1/models/m/predict", Reply(422, {"detail": "3 inputs in one request; at most 2"}))
    with pytest.raises(ServerError, match=r"^HTTP 422: 3 inputs in one request; at most 2$"):
        Client(server.url).predict("m", [1, 2, 3])


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ("<html>502 Bad Gateway</html>", "<html>502 Bad Gateway</html>"),  # a proxy's page
        ({"error": "no detail key"}, '{"error": "no detail key"}'),
        (["a", "list"], '["a", "list"]'),
        (b"\xff\xfe not utf-8", "\ufffd\ufffd not utf-8"),
        ("", ""),
    ],
)
def test_an_error_body_without_a_json_detail_becomes_the_text(server: FakeServer, body: Any, detail: str) -> None:
    server.on("POST", "/v1/models/m/predict", Reply(502, body))
    with pytest.raises(ServerError) as info:
        Client(server.url).predict("m", [1])
    assert info.value.status == 502 and info.value.detail == detail


def test_a_retry_after_date_still_raises_server_error(server: FakeServer) -> None:
    """Retry-After in its HTTP-date form (RFC 9110 10.2.3, e.g. from a proxy in front of the server)."""
    server.on(
        "POST", "/v1/models/m/predict", Reply(503, {"detail": "busy"}, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    )
    with pytest.raises(ServerError) as info:
        Client(server.url).predict("m", [1])
    assert info.value.status == 503 and info.value.retry_after == 0.0  # a date in the past
    server.on("POST", "/v1/models/m/predict", Reply(503, {"detail": "busy"}, {"Retry-After": "soon"}))
    with pytest.raises(ServerError) as info:
        Client(server.url).predict("m", [1])
    assert info.value.retry_after is None


# --- probes and transport -----------------------------------------------------------------------


def test_health_and_ready_are_booleans(server: FakeServer) -> None:
    client = Client(server.url)
    server.on("GET", "/health", Reply(200, "ok"))
    server.on("GET", "/ready", Reply(503, "not ready"))
    assert client.health() is True
    assert client.ready() is False
    server.on("GET", "/ready", Reply(200, "ready"))
    assert client.ready() is True
    assert [(s.method, s.path) for s in server.seen] == [("GET", "/health"), ("GET", "/ready"), ("GET", "/ready")]


def test_probes_of_a_server_that_is_not_there_are_false() -> None:
    probe = FakeServer()  # bound to a free port, then closed without serving
    url = probe.url
    probe.httpd.server_close()
    client = Client(url, timeout_s=2.0)
    assert client.health() is False and client.ready() is False
    with pytest.raises(OSError):  # predict does not hide a refused connection
        client.predict("m", [1])


def test_a_slow_server_times_out(server: FakeServer) -> None:
    server.on("GET", "/health", Reply(200, "ok", delay_s=1.0))
    server.on("POST", "/v1/models/m/predict", Reply(200, predictions("m", 1, ["a"]), delay_s=1.0))
    client = Client(server.url, timeout_s=0.2)
    # a client that waited out the 1 s would get "ok" and the predictions: these outcomes, not the
    # wall clock of this shared machine, show that it gave up after its timeout
    assert client.health() is False
    with pytest.raises(OSError):
        client.predict("m", [1])


def test_retry_after_in_seconds_or_as_a_date() -> None:
    from datetime import datetime, timedelta, timezone
    from email.utils import format_datetime

    from automl.serve.client import retry_after_s

    soon = datetime.now(timezone.utc) + timedelta(seconds=120)
    assert 100 < (retry_after_s(format_datetime(soon, usegmt=True)) or 0) <= 120
    assert 100 < (retry_after_s(soon.strftime("%a, %d %b %Y %H:%M:%S -0000")) or 0) <= 120  # no zone: UTC
    assert retry_after_s("5") == 5.0 and retry_after_s("-3") == 0.0
    assert retry_after_s(None) is None and retry_after_s("later") is None
