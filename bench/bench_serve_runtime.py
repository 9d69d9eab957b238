"""Served latency and throughput of one model under different serving settings, side by side:
by default its ONNX export (``automl serve``'s default, ``runtime=auto``) against its native model
(``runtime=native``); ``--side`` names other settings (``--side w1:workers=1 --side w2:workers=2``).

Each side is a server (LitServe, invoke logging on, as ``automl serve`` runs) on its own copy of
the workspace (one invoke writer per workspace), all running at once. ``--floor WS:MODEL`` adds
one more: the same server with a trivial model (a logistic regression over the same rows), to show
how much of each request is the server's own. The load comes from a separate client process
(``bench_serve.py --client``): C threads, each with one keep-alive connection, one input per
request (adult-income rows for tables, SMS messages for texts, pet photos for images),
``--warmup`` unmeasured seconds, then ``--seconds`` measured. Segments alternate between the sides
for each client count, ``--pairs`` times; medians over pairs. Each side's ``runtime`` is read
from an answer.

    .venv/bin/python bench/bench_serve_runtime.py --workspace WS --clients 1,8,64 --pairs 3
    .venv/bin/python bench/bench_serve_runtime.py --workspace WS --model dog_classifier --kind image

WS holds the model with a passing export (``bench_predict_latency.py`` leaves an ``income`` one).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
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


def bodies(folder: Path, kind: str, n: int = 500) -> Path:
    """One input per request body: income rows (tables), SMS messages or pet photos."""
    if kind == "tabular":
        rows = pd.read_csv(DATA).drop(columns=["income", "fnlwgt"]).sample(n, random_state=0)
        records = [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in rows.to_dict("records")]
        texts = [json.dumps({"inputs": [r]}, default=str) for r in records]
    else:
        from bench_serve import request_bodies

        texts = request_bodies(kind, min(n, 100), seed=0)
    path = folder / "bodies.json"
    path.write_text(json.dumps(texts))
    return path


def sample_input(body_file: Path, kind: str) -> list[Any]:
    first = json.loads(json.loads(body_file.read_text())[0])["inputs"]
    return [base64.b64decode(first[0])] if kind == "image" else first


def segment(
    port: int, model: str, key: str, body_file: Path, clients: int, args: argparse.Namespace, tmp: Path
) -> dict[str, Any]:
    spec = {
        "port": port,
        "model": model,
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


def parse_side(text: str) -> tuple[str, dict[str, str]]:
    """``LABEL:key=value,key=value`` -> the label and ``automl serve`` options."""
    label, _, options = text.partition(":")
    return label, dict(item.split("=", 1) for item in options.split(",") if item)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--model", default="income")
    parser.add_argument("--kind", choices=("tabular", "text", "image"), default="tabular")
    parser.add_argument("--side", action="append", help="LABEL:key=value,... (default: onnx and native runtimes)")
    parser.add_argument("--floor", help="WS:MODEL, a trivial model served the same way (tables)")
    parser.add_argument("--clients", default="1,8,64")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-serve-runtime-"))
    body_file = bodies(tmp, args.kind)
    clients = [int(c) for c in args.clients.split(",")]
    sides = [parse_side(text) for text in args.side or ["onnx:runtime=auto", "native:runtime=native"]]
    plan: list[tuple[str, Path, str, dict[str, str]]] = []
    for i, (label, options) in enumerate(sides):
        ws = args.workspace if i == 0 else tmp / f"ws-{label}"  # one invoke writer per workspace
        if i:
            shutil.copytree(args.workspace, ws, ignore=shutil.ignore_patterns("invokes"))
        plan.append((label, ws, args.model, options))
    if args.floor:
        floor_ws, floor_model = args.floor.rsplit(":", 1)
        plan.append(("floor", Path(floor_ws), floor_model, {}))
    results: dict[str, dict[int, list[dict[str, Any]]]] = {label: {} for label, *_ in plan}
    runtimes: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        servers = {}
        for label, ws, model, options in plan:
            key = KeyStore(ws).add(model, "bench")[1]
            server = stack.enter_context(LocalServer.start(ws, [model], tmp / f"{label}.log", **options))
            servers[label] = (server, model, key)
            answer = Client(server.url, api_key=key).predict(model, sample_input(body_file, args.kind))[0]
            runtimes[label] = answer.runtime
        for c in clients:
            for _ in range(args.pairs):
                for label, (server, model, key) in servers.items():
                    results[label].setdefault(c, []).append(segment(server.port, model, key, body_file, c, args, tmp))
                    time.sleep(0.2)
        for server, _, _ in servers.values():
            server.stop()
    table = {}
    for label, by_clients in results.items():
        for c, segs in by_clients.items():
            row = {
                "req_per_s": round(statistics.median(s["req_per_s"] for s in segs), 1),
                "p50_ms": round(statistics.median(s["p50_ms"] for s in segs if s["p50_ms"] is not None), 2),
                "p99_ms": round(statistics.median(s["p99_ms"] for s in segs if s["p99_ms"] is not None), 2),
                "errors": sum(s["errors"] for s in segs),
                "error_kinds": [s["error_kinds"] for s in segs if s["error_kinds"]],
            }
            table[f"{label} {c} client(s)"] = row
            print(f"{label:<7} {c:>3} client(s): {row}", flush=True)
    print(f"runtime answering: {runtimes}")
    body = {"model": args.model, "sides": {label: options for label, _, _, options in plan}, "runtimes": runtimes}
    write_result(f"serve_runtime_{args.model}", args, ("automl", "onnxruntime", "litserve"), {**body, "table": table})


if __name__ == "__main__":
    main()
