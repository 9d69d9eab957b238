"""Served latency and throughput of the ``income`` model: its ONNX export (``automl serve``'s
default, ``runtime=auto``) against its native model (``runtime=native``), side by side.

Two servers run at once on copies of one workspace (LitServe, one inference worker each, invoke
logging on, as ``automl serve`` runs). The load comes from a separate client process
(``bench_serve.py --client``): C threads, each with one keep-alive connection, one row per request
(real adult-income rows), ``--warmup`` unmeasured seconds, then ``--seconds`` measured. Segments
alternate between the two servers for each client count, ``--pairs`` times; medians over pairs.
Every answer's ``runtime`` is checked in a last call to each server.

    .venv/bin/python bench/bench_serve_runtime.py --workspace WS --clients 1,8,64 --pairs 3

WS holds an ``income`` model with a passing export (``bench_predict_latency.py`` leaves one).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_income import write_result  # noqa: E402

from automl.serve.api_keys import KeyStore  # noqa: E402
from automl.serve.client import Client  # noqa: E402
from automl.serve.local import LocalServer  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "adult_income" / "adult.csv"
CLIENT = Path(__file__).resolve().parent / "bench_serve.py"


def bodies(folder: Path, n: int = 500) -> Path:
    rows = pd.read_csv(DATA).drop(columns=["income", "fnlwgt"]).sample(n, random_state=0)
    records = [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in rows.to_dict("records")]
    path = folder / "bodies.json"
    path.write_text(json.dumps([json.dumps({"inputs": [r]}, default=str) for r in records]))
    return path


def segment(port: int, key: str, body_file: Path, clients: int, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    spec = {
        "port": port,
        "model": "income",
        "key": key,
        "bodies": str(body_file),
        "clients": clients,
        "warmup": args.warmup,
        "seconds": args.seconds,
        "seed": 0,
        "timeout_s": 60,
        "collect_ids": False,
    }
    spec_path = tmp / "spec.json"
    spec_path.write_text(json.dumps(spec))
    done = subprocess.run([sys.executable, str(CLIENT), "--client", str(spec_path)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    r = json.loads(done.stdout)
    lat = sorted(r["latencies_ms"])
    return {
        "req_per_s": r["ok"] / args.seconds,
        "p50_ms": lat[len(lat) // 2] if lat else None,
        "p99_ms": lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else None,
        "errors": r["errors"],
        "error_kinds": r["error_kinds"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--clients", default="1,8,64")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-serve-runtime-"))
    key = KeyStore(args.workspace).add("income", "bench")[1]
    body_file = bodies(tmp)
    clients = [int(c) for c in args.clients.split(",")]
    results: dict[str, dict[int, list[dict[str, Any]]]] = {"onnx": {}, "native": {}}
    runtimes: dict[str, str] = {}
    twin = tmp / "ws-native"  # one invoke writer per workspace: the native server logs to a copy
    shutil.copytree(args.workspace, twin, ignore=shutil.ignore_patterns("invokes"))
    with (
        LocalServer.start(args.workspace, ["income"], tmp / "onnx.log", runtime="auto") as fast,
        LocalServer.start(twin, ["income"], tmp / "native.log", runtime="native") as slow,
    ):
        servers = {"onnx": fast, "native": slow}
        sample = json.loads(json.loads(body_file.read_text())[0])["inputs"]
        for side, server in servers.items():
            runtimes[side] = Client(server.url, api_key=key).predict("income", sample)[0].runtime
        for c in clients:
            for _ in range(args.pairs):
                for side, server in servers.items():
                    results[side].setdefault(c, []).append(segment(server.port, key, body_file, c, args, tmp))
                    time.sleep(0.2)
        for server in servers.values():
            server.stop()
    table = {}
    for side, by_clients in results.items():
        for c, segs in by_clients.items():
            row = {
                "req_per_s": round(statistics.median(s["req_per_s"] for s in segs), 1),
                "p50_ms": round(statistics.median(s["p50_ms"] for s in segs if s["p50_ms"] is not None), 2),
                "p99_ms": round(statistics.median(s["p99_ms"] for s in segs if s["p99_ms"] is not None), 2),
                "errors": sum(s["errors"] for s in segs),
                "error_kinds": [s["error_kinds"] for s in segs if s["error_kinds"]],
            }
            table[f"{side} {c} client(s)"] = row
            print(f"{side:<7} {c:>3} client(s): {row}")
    print(f"runtime answering: {runtimes}")
    write_result("serve_runtime", args, ("automl", "onnxruntime", "litserve"), {"runtimes": runtimes, "table": table})


if __name__ == "__main__":
    main()
