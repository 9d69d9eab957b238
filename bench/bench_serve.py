"""Serving latency and throughput of ``automl serve`` (LitServe backend), with invoke logging on vs off.

Three models, trained once with the ``automl`` CLI into ``--workspace`` (kept between runs; a model
already there with a production version is not trained again):

- **tabular**: ``automl run recipe=penguins search=quick eval.cv_folds=3`` (scikit-learn).
- **text**: ``automl run recipe=spam_filter search=quick search.trainers=[linear_probe]
  eval.cv_folds=3``: the bundled MiniLM backbone (all_minilm_l6_v2) + a logistic-regression probe.
- **image**: ``automl run recipe=dog_classifier search=quick search.trainers=[linear_probe]
  search.backbones=[resnet18] search.backbone_options.resnet18.pretrained=false eval.cv_folds=3``:
  timm's resnet18 with random weights (no hub here; the cost of a forward pass does not depend on
  the weights, the accuracy does) + a probe.

Per model, two servers run side by side, each with one inference worker, on the same workspace:
one as ``automl serve`` runs it (every answered input logged by the ``InvokeWriter``), and one with
``ServeConfig.extra["log_invokes"] = False`` (no writer, nothing logged; a switch for benchmarks
only). Each is started through ``automl.serve.supervisor.serve`` in its own session and must answer
``/health`` and ``/ready``. The load comes from a separate client process (this script with
``--client``) on 127.0.0.1: C threads, each with one keep-alive HTTP connection, sending one request
at a time with one input (a real penguins row, SMS message or photo from the shared data, base64
for images), for ``--warmup`` seconds (not measured) and then ``--seconds`` seconds. Measured per
segment: throughput (answers completed in the window / its length), p50 and p99 of the latency of
those answers (client side, from sending to the last byte), errors (non-200 or failed requests),
the CPU time each server process used per answered request (from /proc: uvicorn process, inference
worker, LitServe's queue manager) and the share of the CPUs other processes used meanwhile.

Segments alternate between the two servers (logging on, off, on, off, ...) for every client count,
``--pairs`` times, so changes in the machine's load hit both sides; the table shows medians over
pairs and the **cost of logging**, 1 - (median req/s on) / (median req/s off) (target: at most
10%). Each server first gets one unmeasured warm-up segment. Every figure is shown twice: over all
pairs, and over the **quiet** pairs only, those in which other processes used under 15% of the CPUs
in both segments (from /proc/stat, less the CPU time of the servers, the client and this script).
On a 2-core machine torch's two threads slow down many times over when another process takes a
core, so a loaded segment measures the other processes more than logging; the verdict is taken on
the quiet pairs (undecided when there are none). ``--wait-idle S`` waits, before each pair, up to S
seconds for other processes to use under 15% of the CPUs.

At the end both servers are stopped with SIGTERM (the supervisor forwards it; uvicorn finishes
what is in flight and closes the writer); then the invoke rows of the model added during the run
(``automl.store.invokes.read_invokes``) must equal the requests the logging server answered, and every
``invoke_id`` it returned must be among them. The writer's own counters (``/metrics``) and nothing
left running in either server's session are checked too.

A JSON result is written to bench/results/serve-<timestamp>.json.

    .venv/bin/python bench/bench_serve.py                       # 3 pairs, 10 s, clients 1 and 4
    .venv/bin/python bench/bench_serve.py --wait-idle 30        # wait for a quiet machine before each pair
    .venv/bin/python bench/bench_serve.py --quick --only tabular
"""

from __future__ import annotations

import argparse
import base64
import csv
import http.client
import json
import os
import random
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from automl.serve.local import LocalServer

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("AUTOML_SHARED_DATA") or REPO.parent / "shared" / "data")
DEFAULT_WORKSPACE = Path(tempfile.gettempdir()) / "automl-bench-serve" / "ws"
KEYS_FILE = "bench-serve-keys.json"  # one API key per model, made once and kept with the workspace
TARGET_COST = 0.10
QUIET = 0.15  # a pair counts as quiet when other processes used less than this share of the CPUs in both segments
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")  # automl.data.images
SIDES = ("on", "off")
PACKAGES = (
    "automl",
    "litserve",
    "fastapi",
    "starlette",
    "uvicorn",
    "duckdb",
    "pyarrow",
    "scikit-learn",
    "torch",
    "timm",
    "transformers",
)

MODELS: dict[str, dict[str, Any]] = {
    "tabular": {
        "name": "penguins",
        "overrides": ["recipe=penguins", "search=quick", "eval.cv_folds=3"],
    },
    "text": {
        "name": "spam_filter",
        "overrides": ["recipe=spam_filter", "search=quick", "search.trainers=[linear_probe]", "eval.cv_folds=3"],
    },
    "image": {
        "name": "dog_classifier",
        "overrides": [
            "recipe=dog_classifier",
            "search=quick",
            "search.trainers=[linear_probe]",
            "search.backbones=[resnet18]",
            "search.backbone_options.resnet18.pretrained=false",
            "eval.cv_folds=3",
        ],
    },
}

# ---------------------------------------------------------------------------------------------
# The client process: ``bench_serve.py --client SPEC.json`` (stdlib only, so it starts fast)


def client_main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    bodies = [b.encode() for b in json.loads(Path(spec["bodies"]).read_text())]
    clients, warmup, seconds = int(spec["clients"]), float(spec["warmup"]), float(spec["seconds"])
    headers = {"Content-Type": "application/json", "X-API-Key": spec["key"]}
    path = f"/v1/models/{spec['model']}/predict"
    offset = random.Random(spec["seed"]).randrange(len(bodies))
    start = time.perf_counter()
    window = (start + warmup, start + warmup + seconds)
    done: list[list[tuple[float, float, int]]] = [[] for _ in range(clients)]
    ids: list[list[str]] = [[] for _ in range(clients)]
    errors: dict[str, int] = {}
    lock = threading.Lock()

    def run(i: int) -> None:
        conn: http.client.HTTPConnection | None = None
        n = offset + i
        while time.perf_counter() < window[1]:
            body = bodies[n % len(bodies)]
            n += clients
            t0 = time.perf_counter()
            status, data = -1, b""
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", spec["port"], timeout=spec["timeout_s"])
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                status, data = response.status, response.read()
                if response.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as err:
                with lock:
                    errors[type(err).__name__] = errors.get(type(err).__name__, 0) + 1
                if conn is not None:
                    conn.close()
                conn = None
            t1 = time.perf_counter()
            done[i].append((t0, t1, status))
            if status == 200 and spec["collect_ids"]:
                ids[i].extend(p["invoke_id"] for p in json.loads(data)["predictions"])
            elif status != 200 and status != -1:
                with lock:
                    errors[f"HTTP {status}"] = errors.get(f"HTTP {status}", 0) + 1
        if conn is not None:
            conn.close()

    cpu = [0.0, 0.0]

    def mark() -> None:  # this process's CPU time at the window's edges
        time.sleep(max(0.0, window[0] - time.perf_counter()))
        cpu[0] = time.process_time()
        time.sleep(max(0.0, window[1] - time.perf_counter()))
        cpu[1] = time.process_time()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)] + [threading.Thread(target=mark)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    calls = [c for per in done for c in per]
    measured = [c for c in calls if window[0] <= c[1] <= window[1]]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result = {
        "clients": clients,
        "seconds": seconds,
        "latencies_ms": [round((t1 - t0) * 1000, 3) for t0, t1, s in measured if s == 200],
        "ok": sum(1 for c in measured if c[2] == 200),
        "errors": sum(1 for c in measured if c[2] != 200),
        "answered_total": sum(1 for c in calls if c[2] == 200),
        "requests_total": len(calls),
        "error_kinds": errors,
        "invoke_ids": [i for per in ids for i in per],
        "client_cpu_window_s": cpu[1] - cpu[0],
        "client_cpu_total_s": usage.ru_utime + usage.ru_stime,
    }
    print(json.dumps(result))
    return 0


# ---------------------------------------------------------------------------------------------
# Inputs


def penguin_rows() -> list[dict[str, Any]]:
    def value(text: str) -> Any:
        if text in ("", "NA"):
            return None
        for kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                pass
        return text

    with (SHARED / "penguins" / "penguins.csv").open(newline="") as f:
        return [{k: value(v) for k, v in row.items() if k != "species"} for row in csv.DictReader(f)]


def sms_texts(n: int, seed: int) -> list[str]:
    with (SHARED / "sms_spam" / "sms_spam.csv").open(newline="", encoding="utf-8") as f:
        texts = [row["text"] for row in csv.DictReader(f)]
    return random.Random(seed).sample(texts, min(n, len(texts)))


def pet_images(n: int, seed: int) -> list[str]:
    root = SHARED / "dog_vs_not_oxford_pets"
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    chosen = random.Random(seed).sample(files, min(n, len(files)))
    return [base64.b64encode(p.read_bytes()).decode("ascii") for p in chosen]


def request_bodies(kind: str, n: int, seed: int) -> list[str]:
    """One input per request body."""
    if kind == "tabular":
        inputs: list[Any] = penguin_rows()
    elif kind == "text":
        inputs = sms_texts(n, seed)
    else:
        inputs = pet_images(n, seed)
    return [json.dumps({"inputs": [x]}) for x in inputs]


# ---------------------------------------------------------------------------------------------
# Training and keys


def automl_cli() -> str:
    return str(Path(sys.executable).with_name("automl"))


def ensure_model(kind: str, ws: Path) -> dict[str, Any]:
    from automl.registry.store import ModelStore

    name, overrides = MODELS[kind]["name"], MODELS[kind]["overrides"]
    command = [automl_cli(), "run", *overrides, f"workspace={ws}"]
    store = ModelStore(ws)
    if name in store.names() and store.rollout(name).production is not None:
        version = store.rollout(name).production
        print(f"[{kind}] {name} v{version} already in {ws}: not trained again", flush=True)
        return {"name": name, "version": version, "trained_now": False, "command": command}
    print(f"[{kind}] training: {' '.join(command)}", flush=True)
    t0 = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if done.returncode not in (0, 3):
        raise SystemExit(f"[{kind}] automl run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    wall = time.perf_counter() - t0
    store = ModelStore(ws)
    version = store.rollout(name).production
    if version is None:
        raise SystemExit(f"[{kind}] {name} has no production version after the run:\n{done.stderr[-3000:]}")
    last = [line for line in done.stderr.splitlines() if line.startswith(f"{name} v")]
    print(f"[{kind}] {last[-1] if last else f'{name} v{version}'} ({wall:.0f} s)", flush=True)
    return {"name": name, "version": version, "trained_now": True, "train_wall_s": wall, "command": command}


def api_key(ws: Path, name: str) -> str:
    """The benchmark's key for ``name``: made once (``automl keys add``) and kept in the workspace,
    so that keys.json, which the server reads on every request, does not grow run after run."""
    from automl.serve.api_keys import KeyStore

    path = ws / KEYS_FILE
    keys = json.loads(path.read_text()) if path.is_file() else {}
    if keys.get(name) and KeyStore(ws).verify(name, keys[name]) is not None:
        return str(keys[name])
    done = subprocess.run(
        [automl_cli(), "keys", "add", f"model={name}", f"workspace={ws}"], capture_output=True, text=True, check=True
    )
    keys[name] = done.stdout.splitlines()[0].strip()
    path.write_text(json.dumps(keys))
    path.chmod(0o600)
    return str(keys[name])


# ---------------------------------------------------------------------------------------------
# Servers


def http_get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


@dataclass
class Server:
    """One side (logging on or off) of a model's pair of servers: a ``LocalServer`` and the roles
    of its processes, for CPU time per role."""

    side: str
    local: LocalServer
    roles: dict[int, str] = field(default_factory=dict)

    @property
    def port(self) -> int:
        return self.local.port

    @property
    def proc(self) -> subprocess.Popen[bytes]:
        return self.local.proc

    @property
    def server_pid(self) -> int:
        return self.local.server_pid


def start_server(ws: Path, name: str, side: str, tmp: Path) -> Server:
    """Started and healthy (``LocalServer.start``), then ready: its worker has loaded the model."""
    from automl.serve.local import LocalServer

    log = tmp / f"serve-{name}-{side}.log"
    local = LocalServer.start(ws, [name], log, timeout_s=240, log_invokes=side == "on", workers=1)
    server = Server(side, local)
    deadline = time.monotonic() + 240
    try:
        while http_get(server.port, "/ready")[0] != 200:
            if time.monotonic() > deadline or local.proc.poll() is not None:
                raise RuntimeError(f"the {side} server was not ready in 240 s:\n{log.read_text()}")
            time.sleep(0.25)
    except BaseException:
        local.kill()
        raise
    server.roles = process_roles(server)
    return server


def stop_server(server: Server) -> dict[str, Any]:
    """SIGTERM to ``automl serve`` (the supervisor), as a service manager stops it."""
    t0 = time.perf_counter()
    try:
        rc: int | None = server.local.stop(signal.SIGTERM, timeout_s=120)
    except subprocess.TimeoutExpired:
        rc = None
    left = server.local.processes()
    server.local.kill()
    text = server.local.log.read_text(errors="replace")
    closed = re.search(r"invoke writer closed \(pid \d+\): (\d+) written, (\d+) dropped, (\d+) failed", text)
    return {
        "exit_code": rc,
        "stop_s": time.perf_counter() - t0,
        "left_running": len(left),
        "log_tail": None if rc == 0 else text[-4000:],
        "writer_closed": None
        if closed is None
        else dict(zip(("written", "dropped", "failed"), map(int, closed.groups()), strict=True)),
    }


# --- processes and CPU time from /proc --------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from the 3rd (state) on


def process_roles(server: Server) -> dict[int, str]:
    """pid -> role for the server's session: main, worker (spawned), tracker, and the two forks of
    the main, LitServe's queue manager (the first) and the uvicorn process (the last)."""
    roles = {server.proc.pid: "supervisor"}
    forks = []
    from automl.serve.local import session_pids

    for pid in session_pids(server.server_pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if pid == server.server_pid:
            roles[pid] = "main"
        elif "spawn_main" in cmdline:
            roles[pid] = "worker"
        elif "resource_tracker" in cmdline:
            roles[pid] = "tracker"
        else:
            fields = _stat(pid)
            forks.append((int(fields[19]) if fields else 0, pid))
    forks.sort()
    for i, (_, pid) in enumerate(forks):
        roles[pid] = "manager" if i == 0 else "uvicorn" if i == len(forks) - 1 else "other"
    return roles


def cpu_by_role(roles: dict[int, str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for pid, role in roles.items():
        fields = _stat(pid)
        if fields is not None:
            out[role] = out.get(role, 0.0) + (int(fields[11]) + int(fields[12])) / CLK_TCK
    return out


def cpu_totals() -> tuple[float, float]:
    """(busy, all) CPU seconds of the whole machine so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / CLK_TCK, sum(values) / CLK_TCK


def metric_values(port: int) -> dict[str, float]:
    """Sums over labels of /metrics: request latency sum and count, the writer's counters."""
    out: dict[str, float] = {}
    try:
        text = http_get(port, "/metrics")[1]
    except OSError:
        return out
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        key, value = line.rsplit(" ", 1)
        key = key.split("{", 1)[0]
        if key in ("automl_request_seconds_sum", "automl_request_seconds_count") or key.startswith("automl_invoke"):
            out[key] = out.get(key, 0.0) + float(value)
    return out


# ---------------------------------------------------------------------------------------------
# Segments


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Linear interpolation between the closest ranks (numpy's default)."""
    if not sorted_values:
        return None
    pos = (len(sorted_values) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def run_segment(
    server: Server,
    idle: Server,
    name: str,
    key: str,
    bodies: Path,
    clients: int,
    warmup: float,
    seconds: float,
    seed: int,
    tmp: Path,
) -> dict[str, Any]:
    spec = {
        "port": server.port,
        "model": name,
        "key": key,
        "bodies": str(bodies),
        "clients": clients,
        "warmup": warmup,
        "seconds": seconds,
        "seed": seed,
        "timeout_s": 60,
        "collect_ids": server.side == "on",
    }
    spec_path = tmp / "client-spec.json"
    spec_path.write_text(json.dumps(spec))
    metrics0 = metric_values(server.port)
    busy0, all0 = cpu_totals()
    srv0, idle0, self0 = cpu_by_role(server.roles), cpu_by_role(idle.roles), os.times()
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--client", str(spec_path)], capture_output=True, text=True
    )
    wall = time.perf_counter() - t0
    busy1, all1 = cpu_totals()
    srv1, idle1, self1 = cpu_by_role(server.roles), cpu_by_role(idle.roles), os.times()
    metrics1 = metric_values(server.port)
    if done.returncode != 0:
        raise RuntimeError(f"the client failed ({done.returncode}):\n{done.stderr[-3000:]}")
    r = json.loads(done.stdout)
    lat = sorted(r.pop("latencies_ms"))
    answered = max(1, r["answered_total"])
    server_cpu = {role: srv1.get(role, 0.0) - srv0.get(role, 0.0) for role in srv1}
    ours = (
        sum(server_cpu.values())
        + sum(idle1.get(k, 0.0) - idle0.get(k, 0.0) for k in idle1)
        + r["client_cpu_total_s"]
        + (self1.user + self1.system - self0.user - self0.system)
    )
    handled = metrics1.get("automl_request_seconds_count", 0.0) - metrics0.get("automl_request_seconds_count", 0.0)
    handler_s = metrics1.get("automl_request_seconds_sum", 0.0) - metrics0.get("automl_request_seconds_sum", 0.0)
    ncpu = os.cpu_count() or 1
    return {
        "side": server.side,
        "clients": clients,
        "req_per_s": r["ok"] / seconds,
        "p50_ms": percentile(lat, 0.50),
        "p99_ms": percentile(lat, 0.99),
        "mean_ms": statistics.fmean(lat) if lat else None,
        "ok": r["ok"],
        "errors": r["errors"],
        "error_kinds": r["error_kinds"],
        "answered_total": r["answered_total"],
        "requests_total": r["requests_total"],
        "invoke_ids": r["invoke_ids"],
        "wall_s": wall,
        "server_handler_mean_ms": 1000 * handler_s / handled if handled else None,
        "cpu_ms_per_request": {role: 1000 * v / answered for role, v in sorted(server_cpu.items())},
        "client_cpu_ms_per_request": 1000 * r["client_cpu_window_s"] / max(1, r["ok"]),
        "idle_server_cpu_s": sum(idle1.get(k, 0.0) - idle0.get(k, 0.0) for k in idle1),
        "others_cpu_share": max(0.0, (busy1 - busy0) - ours) / max(1e-9, (all1 - all0)),
        "machine_busy_share": (busy1 - busy0) / max(1e-9, (all1 - all0)),
        "loadavg_1m": os.getloadavg()[0],
        "cpus": ncpu,
    }


def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(statistics.median(present)) if present else None


def summarise_pairs(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, Any]:
    """Medians over (on, off) pairs of segments, and the cost of logging from the median rates."""
    out: dict[str, Any] = {"pairs": len(pairs)}
    for i, side in enumerate(SIDES):
        segs = [pair[i] for pair in pairs]
        for key in ("req_per_s", "p50_ms", "p99_ms", "server_handler_mean_ms", "others_cpu_share"):
            out[f"{key}_{side}"] = median([s[key] for s in segs])
        out[f"errors_{side}"] = sum(s["errors"] for s in segs)
        roles = sorted({r for s in segs for r in s["cpu_ms_per_request"]})
        out[f"cpu_ms_per_request_{side}"] = {r: median([s["cpu_ms_per_request"].get(r) for s in segs]) for r in roles}
        out[f"server_cpu_ms_per_request_{side}"] = median([sum(s["cpu_ms_per_request"].values()) for s in segs])
        out[f"client_cpu_ms_per_request_{side}"] = median([s["client_cpu_ms_per_request"] for s in segs])
    on_rate, off_rate = out["req_per_s_on"], out["req_per_s_off"]
    out["ratio_off_on"] = off_rate / on_rate if on_rate and off_rate else None
    out["cost_of_logging"] = 1 - on_rate / off_rate if on_rate and off_rate else None
    out["pair_ratios_off_on"] = [b["req_per_s"] / a["req_per_s"] for a, b in pairs if a["req_per_s"]]
    return out


def summarise(segments: list[dict[str, Any]], clients: list[int]) -> list[dict[str, Any]]:
    """Per client count: every pair, and the quiet pairs only (other processes under ``QUIET`` of
    the CPUs in both segments). Torch's threads slow down many times over when another process
    takes a core, so a loaded segment says more about the other processes than about logging;
    the verdict is taken on the quiet pairs, and is None (undecided) when there are none."""
    rows = []
    for c in clients:
        pairs = []
        for on in (s for s in segments if s["clients"] == c and s["side"] == "on"):
            off = [s for s in segments if s["clients"] == c and s["side"] == "off" and s["pair"] == on["pair"]]
            if off:
                pairs.append((on, off[0]))
        quiet = [p for p in pairs if max(p[0]["others_cpu_share"], p[1]["others_cpu_share"]) < QUIET]
        row: dict[str, Any] = {"clients": c, "all": summarise_pairs(pairs), "quiet": summarise_pairs(quiet)}
        cost = row["quiet"]["cost_of_logging"]
        row["met"] = None if cost is None else cost <= TARGET_COST
        rows.append(row)
    return rows


def bench_model(kind: str, ws: Path, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from bench_income import machine_state

    from automl.store.invokes import read_invokes

    model = ensure_model(kind, ws)
    name = model["name"]
    key = api_key(ws, name)
    bodies = tmp / f"bodies-{kind}.json"
    texts = request_bodies(kind, args.inputs, args.seed)
    bodies.write_text(json.dumps(texts))
    before = read_invokes(ws, model=name)
    rows_before = len(before)
    segments: list[dict[str, Any]] = []
    stops: dict[str, Any] = {}
    writer_metrics: dict[str, float] = {}
    servers: dict[str, Server] = {}
    try:
        t0 = time.perf_counter()
        for side in SIDES:
            servers[side] = start_server(ws, name, side, tmp)
        print(
            f"[{kind}] {name} v{model['version']}: servers ready in {time.perf_counter() - t0:.1f} s "
            f"(on :{servers['on'].port}, off :{servers['off'].port}); {len(texts)} distinct inputs",
            flush=True,
        )
        answered_on: list[int] = []
        ids_on: list[str] = []
        seg_seed = args.seed
        for side in SIDES:  # one unmeasured segment per server: first predictions, lazy imports
            other = servers["off" if side == "on" else "on"]
            seg = run_segment(
                servers[side], other, name, key, bodies, max(args.clients), args.warmup, args.warmup, seg_seed, tmp
            )
            seg_seed += 1
            if side == "on":
                answered_on.append(seg["answered_total"])
                ids_on += seg["invoke_ids"]
        for pair in range(args.pairs):
            for c in args.clients:
                if args.wait_idle > 0:
                    machine_state(args.wait_idle, f"{kind} pair {pair + 1} clients {c}")
                for side in SIDES:
                    other = servers["off" if side == "on" else "on"]
                    seg = run_segment(
                        servers[side], other, name, key, bodies, c, args.warmup, args.seconds, seg_seed, tmp
                    )
                    seg_seed += 1
                    seg["pair"] = pair
                    if side == "on":
                        answered_on.append(seg["answered_total"])
                        ids_on += seg["invoke_ids"]
                    seg.pop("invoke_ids")
                    segments.append(seg)
                    print(
                        f"[{kind}] pair {pair + 1}/{args.pairs} clients {c} logging {side:<3}: "
                        f"{seg['req_per_s']:7.1f} req/s, p50 {seg['p50_ms']:7.2f} ms, p99 {seg['p99_ms']:7.2f} ms, "
                        f"errors {seg['errors']}, others {seg['others_cpu_share']:.0%} of the CPUs",
                        flush=True,
                    )
        writer_metrics = metric_values(servers["on"].port)
    finally:
        for side, server in servers.items():
            stops[side] = stop_server(server) if server.proc.poll() is None else {"exit_code": server.proc.returncode}
    after = read_invokes(ws, model=name)
    new_rows = after.iloc[rows_before:] if len(after) >= rows_before else after.iloc[0:0]
    logged_ids = set(new_rows["invoke_id"])
    rows = {
        "answered_on": sum(answered_on),
        "rows_added": len(after) - rows_before,
        "ids_returned": len(ids_on),
        "ids_missing": sum(1 for i in ids_on if i not in logged_ids),
        "writer_metrics_before_stop": writer_metrics,
    }
    rows["equal"] = rows["rows_added"] == rows["answered_on"] and rows["ids_missing"] == 0
    print(
        f"[{kind}] invoke rows added {rows['rows_added']}, answers by the logging server {rows['answered_on']}, "
        f"returned invoke ids not in the log {rows['ids_missing']}: {'equal' if rows['equal'] else 'NOT EQUAL'}; "
        f"writer at its close {stops['on'].get('writer_closed')}; "
        f"stop: on exit {stops['on'].get('exit_code')}, off exit {stops['off'].get('exit_code')}",
        flush=True,
    )
    return {
        "kind": kind,
        "model": model,
        "inputs": len(texts),
        "segments": segments,
        "summary": summarise(segments, args.clients),
        "rows": rows,
        "stops": stops,
    }


# ---------------------------------------------------------------------------------------------


def fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def print_tables(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print()
    print(
        f"serving, 1 inference worker, one input per request, {args.pairs} pair(s) of {args.seconds:g} s "
        f"(after {args.warmup:g} s warm-up) per side and client count; medians over pairs; {os.cpu_count()} CPUs"
    )
    print(
        f"'all': every pair; 'quiet': pairs in which other processes used under {QUIET:.0%} of the CPUs in both "
        "segments (the verdict is taken on these)"
    )
    for res in results:
        m = res["model"]
        print(f"\n{res['kind']}: {m['name']} v{m['version']}")
        print(
            f"{'clients':>7} {'pairs':>9} {'req/s on':>9} {'req/s off':>9} {'cost':>7} {'p50 on':>8} {'p50 off':>8} "
            f"{'p99 on':>8} {'p99 off':>8} {'err on/off':>10} {'others on/off':>13}"
        )
        for row in res["summary"]:
            for which in ("all", "quiet"):
                b = row[which]
                cost = b["cost_of_logging"]
                others = (
                    f"{_pct(b['others_cpu_share_on']):.0f}/{_pct(b['others_cpu_share_off']):.0f}%"
                    if b["pairs"]
                    else "-"
                )
                print(
                    f"{row['clients']:>7} {str(b['pairs']) + ' ' + which:>9} {fmt(b['req_per_s_on'], '.1f'):>9} "
                    f"{fmt(b['req_per_s_off'], '.1f'):>9} {fmt(_pct(cost), '.1f') + ('%' if b['pairs'] else ''):>7} "
                    f"{fmt(b['p50_ms_on'], '.2f'):>8} {fmt(b['p50_ms_off'], '.2f'):>8} "
                    f"{fmt(b['p99_ms_on'], '.2f'):>8} {fmt(b['p99_ms_off'], '.2f'):>8} "
                    f"{str(b['errors_on']) + '/' + str(b['errors_off']):>10} {others:>13}"
                )
        for row in res["summary"]:
            b = row["quiet"] if row["quiet"]["pairs"] else row["all"]
            which = "quiet" if row["quiet"]["pairs"] else "all"
            cpu_on, cpu_off = b["cpu_ms_per_request_on"], b["cpu_ms_per_request_off"]
            print(
                f"  clients {row['clients']} ({which} pairs): server CPU ms per answer on / off: all processes "
                f"{fmt(b['server_cpu_ms_per_request_on'], '.2f')} / {fmt(b['server_cpu_ms_per_request_off'], '.2f')}"
                + "".join(
                    f", {role} {fmt(cpu_on.get(role), '.2f')} / {fmt(cpu_off.get(role), '.2f')}"
                    for role in ("uvicorn", "worker", "manager")
                )
                + f"; handler mean {fmt(b['server_handler_mean_ms_on'], '.2f')} / "
                f"{fmt(b['server_handler_mean_ms_off'], '.2f')} ms"
            )
            print(
                f"  clients {row['clients']}: off/on per pair (all) "
                + ", ".join(f"{r:.3f}" for r in row["all"]["pair_ratios_off_on"])
            )
        rows = res["rows"]
        print(
            f"  invoke rows: {rows['rows_added']} added, {rows['answered_on']} answers by the logging server, "
            f"{rows['ids_missing']} returned ids missing -> {'equal' if rows['equal'] else 'NOT EQUAL'}"
        )
    print()
    print(
        "cost = 1 - (req/s on) / (req/s off), from the medians; server CPU ms per answer: CPU time of the "
        "server's processes (uvicorn: HTTP, auth, routing, invoke writer; worker: the model; manager: LitServe's "
        "queues) over the segment / answers in it (warm-up included), median over pairs"
    )
    for res in results:
        for row in res["summary"]:
            q = row["quiet"]
            if row["met"] is None:
                verdict = f"undecided: no quiet pair (all pairs: {fmt(_pct(row['all']['cost_of_logging']), '.1f')}%)"
            else:
                verdict = f"{fmt(_pct(q['cost_of_logging']), '.1f')}% over {q['pairs']} quiet pair(s): " + (
                    "met" if row["met"] else "NOT met"
                )
            print(f"{res['kind']}, {row['clients']} client(s): cost of logging (target <= 10%) {verdict}")


def _pct(v: float | None) -> float | None:
    return None if v is None else 100 * v


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--client":
        return client_main(sys.argv[2])
    from bench_income import add_wait_idle, machine_state, write_result  # numpy and pandas: not in the client

    parser = argparse.ArgumentParser(description="Serving latency and throughput, invoke logging on vs off.")
    parser.add_argument("--workspace", type=Path, default=DEFAULT_WORKSPACE, help=f"default {DEFAULT_WORKSPACE}")
    parser.add_argument("--only", default="tabular,text,image", help="models to measure (default tabular,text,image)")
    parser.add_argument("--clients", default="1,4", help="concurrent clients per measurement (default 1,4)")
    parser.add_argument("--seconds", type=float, default=None, help="measured seconds per segment (default 10)")
    parser.add_argument("--warmup", type=float, default=None, help="unmeasured seconds first (default 2)")
    parser.add_argument("--pairs", type=int, default=None, help="on/off pairs per client count (default 3)")
    parser.add_argument("--inputs", type=int, default=100, help="distinct texts or images sent (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the input samples (default 0)")
    parser.add_argument("--quick", action="store_true", help="1 pair of 3 s after 1 s warm-up: a smoke run")
    add_wait_idle(parser, "each model and each pair")
    args = parser.parse_args()
    args.seconds = args.seconds or (3.0 if args.quick else 10.0)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 2.0)
    args.pairs = args.pairs or (1 if args.quick else 3)
    args.clients = [int(c) for c in args.clients.split(",") if c.strip()]
    kinds = [k.strip() for k in args.only.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in MODELS]
    if unknown or not kinds or not args.clients or min(args.clients) < 1:
        parser.error(f"--only takes {', '.join(MODELS)}; --clients positive numbers")

    args.workspace = args.workspace.resolve()
    args.workspace.mkdir(parents=True, exist_ok=True)
    machine = [machine_state(0.0, "start")]
    print(f"[start] load average {machine[0]['loadavg']}, others use {machine[0]['other_cpu_busy']:.0%}", flush=True)
    results = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="automl-bench-serve-") as tmp:
        for kind in kinds:
            machine.append(machine_state(args.wait_idle, kind))
            results.append(bench_model(kind, args.workspace, args, Path(tmp)))
    machine.append(machine_state(0.0, "end"))
    print_tables(results, args)
    print(
        f"\nwall {time.perf_counter() - t0:.0f} s; load average at the start {machine[0]['loadavg']}, "
        f"at the end {machine[-1]['loadavg']}; other processes used "
        + ", ".join(f"{m['phase']} {m['other_cpu_busy']:.0%}" for m in machine if m["other_cpu_busy"] is not None)
        + " of the CPUs (1 s samples between steps)"
    )
    write_result(
        "serve",
        args,
        PACKAGES,
        {"target_cost_of_logging": TARGET_COST, "models": results},
        {"contention": machine},
    )
    ok = all(row["met"] is True for res in results for row in res["summary"])
    ok = ok and all(res["rows"]["equal"] for res in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
