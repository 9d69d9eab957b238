"""A real server on 127.0.0.1: a penguins workspace trained once per session (two versions, a key),
``automl serve`` started in its own session on a free port, and every process of it killed at the
end of the test, pass or fail."""

from __future__ import annotations

import http.client
import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from automl.serve.local import LocalServer

AUTOML = str(Path(sys.executable).with_name("automl"))
ROW = {
    "island": "Torgersen",
    "bill_length_mm": 39.1,
    "bill_depth_mm": 18.7,
    "flipper_length_mm": 181,
    "body_mass_g": 3750,
    "sex": "male",
    "year": 2007,
}
MULTIPART = (
    b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.png"\r\n'
    b"Content-Type: application/octet-stream\r\n\r\nabc\r\n--b--\r\n"
)


def request(
    port: int, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, raw: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    h = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    try:
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


@dataclass
class Server:
    """A ``LocalServer`` of the penguins model and a key for it."""

    local: LocalServer
    key: str

    @property
    def port(self) -> int:
        return self.local.port

    @property
    def workspace(self) -> Path:
        return self.local.workspace

    @property
    def log(self) -> Path:
        return self.local.log

    def url(self, model: str = "penguins", version: int | None = None) -> str:
        return f"/v1/models/{model}/predict" if version is None else f"/v1/models/{model}/versions/{version}/predict"

    def predict(self, inputs: list[Any], key: str | None = None, version: int | None = None, **headers: str) -> Any:
        h = {"X-API-Key": key or self.key, **headers}
        return request(self.port, "POST", self.url(version=version), {"inputs": inputs}, h)


def automl(*args: str, ws: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AUTOML, *args, f"workspace={ws}"], capture_output=True, text=True, check=check)


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """penguins v1 (production, trained for real) and v2 (the same model registered again)."""
    ws = tmp_path_factory.mktemp("serve") / "ws"
    done = subprocess.run(
        [AUTOML, "run", "recipe=penguins", "search=quick", "eval.cv_folds=3", f"workspace={ws}"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    code = (
        "import sys; from pathlib import Path; from automl.registry.store import ModelStore; "
        "s = ModelStore(Path(sys.argv[1])); "
        "print(s.register('penguins', s.load_model('penguins', 1), s.meta('penguins', 1)))"
    )
    subprocess.run([sys.executable, "-c", code, str(ws)], check=True, capture_output=True)
    return ws


def start_server(ws: Path, tmp: Path, extra: dict[str, Any] | None = None, **options: Any) -> Server:
    key = automl("keys", "add", "model=penguins", ws=ws).stdout.splitlines()[0]
    log = tmp / f"serve-{len(list(tmp.glob('serve-*.log')))}.log"
    return Server(LocalServer.start(ws, ["penguins"], log, extra, **options), key)


@pytest.fixture
def serve_factory(trained: Path, tmp_path: Path) -> Iterator[Any]:
    """Start servers on copies of the trained workspace; all of them are killed at teardown."""
    servers: list[Server] = []

    def make(extra: dict[str, Any] | None = None, **options: Any) -> Server:
        ws = tmp_path / f"ws{len(servers)}"
        shutil.copytree(trained, ws)
        servers.append(start_server(ws, tmp_path, extra, **options))
        return servers[-1]

    yield make
    for server in servers:
        server.local.kill()


@pytest.fixture(scope="module")
def shared(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("shared")
    ws = tmp / "ws"
    shutil.copytree(trained, ws)
    server = start_server(ws, tmp, max_body_bytes=65536)
    yield server
    server.local.kill()


pytestmark = pytest.mark.slow


def test_predict_both_routes_and_the_status_table(shared: Server) -> None:
    status, _, body = shared.predict([ROW, {**ROW, "island": "Biscoe"}])
    assert status == 200, body
    answer = json.loads(body)
    assert answer["route"] == "production" and answer["version"] == 1
    first = answer["predictions"][0]
    assert first["label"] == "Adelie" and set(first["scores"]) == {"Adelie", "Chinstrap", "Gentoo"}
    assert len({p["invoke_id"] for p in answer["predictions"]}) == 2
    status, _, body = shared.predict([ROW], version=2)
    assert status == 200 and json.loads(body)["route"] == "pinned" and json.loads(body)["version"] == 2

    def post(path: str, raw: bytes, key: str | None = shared.key, ctype: str = "application/json") -> int:
        headers = {"Content-Type": ctype} | ({"X-API-Key": key} if key else {})
        return request(shared.port, "POST", path, headers=headers, raw=raw)[0]

    good = json.dumps({"inputs": [ROW]}).encode()
    p = shared.url()
    other_key = automl("keys", "add", "model=penguins", ws=shared.workspace).stdout.splitlines()[0]
    cases = {
        "no key": (post(p, good, key=None), 401),
        "wrong key": (post(p, good, key="amk_000000000000_" + "x" * 43), 401),
        "garbage key": (post(p, good, key="nope"), 401),
        "unknown model": (post("/v1/models/nope/predict", good), 404),
        "unknown version": (post(shared.url(version=9), good), 404),
        "version abc": (post("/v1/models/penguins/versions/abc/predict", good), 422),
        "malformed json": (post(p, b"{bad"), 400),
        "empty body": (post(p, b""), 400),
        "array body": (post(p, b"[1, 2]"), 422),
        "inputs missing": (post(p, b"{}"), 422),
        "inputs empty": (post(p, b'{"inputs": []}'), 422),
        "input a number": (post(p, b'{"inputs": [3]}'), 422),
        "a text to a tabular model": (post(p, b'{"inputs": ["hello"]}'), 422),
        "string in a numeric column": (
            post(p, json.dumps({"inputs": [{**ROW, "bill_length_mm": "abc"}]}).encode()),
            422,
        ),
        "bool in a numeric column": (post(p, json.dumps({"inputs": [{**ROW, "year": True}]}).encode()), 422),
        "NaN in a numeric column": (post(p, b'{"inputs": [{"bill_length_mm": NaN}]}'), 422),
        "missing column": (
            post(p, json.dumps({"inputs": [{k: v for k, v in ROW.items() if k != "sex"}]}).encode()),
            422,
        ),
        "list in a column": (post(p, json.dumps({"inputs": [{**ROW, "sex": ["a"]}]}).encode()), 422),
        "multipart to a tabular model": (post(p, MULTIPART, ctype="multipart/form-data; boundary=b"), 422),
        "broken multipart": (post(p, b"--b\r\n\r\n--b--\r\n", ctype="multipart/form-data; boundary=b"), 400),
        "over the body limit": (post(p, json.dumps({"inputs": [ROW] * 2000}).encode()), 413),
        "new key works": (post(p, good, key=other_key), 200),
    }
    wrong = {name: got for name, (got, want) in cases.items() if got != want}
    assert not wrong, wrong
    # a key revoked while serving stops working on the next request
    key_id = other_key.split("_")[1]
    automl("keys", "revoke", f"id={key_id}", ws=shared.workspace)
    assert post(p, good, key=other_key) == 401
    # probes and the schema need no key and say nothing else
    assert request(shared.port, "GET", "/health")[2] == b"ok"
    assert request(shared.port, "GET", "/ready")[:3:2] == (200, b"ready")
    assert request(shared.port, "GET", "/info")[0] == 404 and request(shared.port, "GET", "/")[0] == 404
    spec = json.loads(request(shared.port, "GET", "/openapi.json")[2])
    assert {"/v1/models/{name}/predict", "/v1/models/{name}/versions/{version}/predict"} <= set(spec["paths"])
    metrics = request(shared.port, "GET", "/metrics")[2].decode()
    assert 'automl_requests_total{model="penguins",version="1",route="production",status="200"} ' in metrics
    assert "automl_inflight_requests 0" in metrics
    assert shared.key not in shared.log.read_text()


def test_rollout_changes_apply_without_restart(shared: Server) -> None:
    def versions(n: int, **headers: str) -> dict[int, int]:
        seen: dict[int, int] = {}
        for _ in range(n):
            status, _, body = shared.predict([ROW], **headers)
            assert status == 200, body
            v = json.loads(body)["version"]
            seen[v] = seen.get(v, 0) + 1
        return seen

    assert versions(5) == {1: 5}
    automl("models", "promote", "model=penguins:2", "canary=50", ws=shared.workspace)
    split = versions(60)
    assert set(split) == {1, 2} and 10 <= split[2] <= 50, split
    for client in ("a", "b", "c", "d"):  # X-Route-Key pins a caller to one side
        assert len(versions(4, **{"X-Route-Key": client})) == 1
    automl("models", "abort", "model=penguins", ws=shared.workspace)
    automl("models", "promote", "model=penguins:2", "shadow=true", ws=shared.workspace)
    assert versions(5) == {1: 5}
    automl("models", "promote", "model=penguins:2", ws=shared.workspace)
    assert versions(5) == {2: 5}
    automl("models", "rollback", "model=penguins", ws=shared.workspace)
    assert versions(5) == {1: 5}


def test_overload_answers_503_with_retry_after(serve_factory: Any) -> None:
    import concurrent.futures

    server = serve_factory(extra={"sleep_s": 0.5}, max_inflight=2)
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda _: server.predict([ROW]), range(12)))
    codes = sorted(a[0] for a in answers)
    assert set(codes) == {200, 503} and codes.count(200) >= 2, codes
    assert all(a[1].get("retry-after") == "1" for a in answers if a[0] == 503)


def test_sigterm_under_load_stops_cleanly_and_logs_every_answer(serve_factory: Any) -> None:
    import threading

    from automl.invokes import read_invokes

    server = serve_factory(extra={"sleep_s": 0.02}, max_inflight=1000)
    answered: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:
                status, _, body = server.predict([ROW])
            except OSError:
                time.sleep(0.01)
                continue
            if status == 200:
                with lock:
                    answered.append(json.loads(body)["predictions"][0]["invoke_id"])

    threads = [threading.Thread(target=client) for _ in range(6)]
    for t in threads:
        t.start()
    time.sleep(2)
    try:
        rc = server.local.stop(signal.SIGTERM)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert rc == 0, server.log.read_text()
    assert server.local.server_pid and not server.local.processes()
    rows = read_invokes(server.workspace, model="penguins")
    assert len(answered) > 10
    assert sorted(rows["invoke_id"]) == sorted(answered)
    assert set(rows["route"]) == {"production"} and set(rows["key_id"]) == {server.key.split("_")[1]}
    assert not rows.astype(str).apply(lambda c: c.str.contains(server.key, regex=False)).any().any()
