"""How long a reviewed label takes to reach a model serving it in production, with nobody running a
command: ``automl serve`` and ``automl loop watch=true`` run side by side, as in production.

Per recipe: the ready recipe trained (``automl run``) on part of the data; the server started
(LitServe on 127.0.0.1) and sent traffic from the rest; the watcher started. Then, per repeat:
one invoke sampled for review, its true label saved as a reviewer's answer (the clock starts
when the answer is saved), and the server polled with that input until a new version answers
(the clock stops). In between, the watcher sees the new label (``loop.interval_s``), runs
``automl run`` in a process of its own (a retrain of the last run's best configurations: a
handful of fits on cached embeddings), the gate passes (the same configuration on changed data),
and the server routes the next request to the new production. No rollout steps here
(``deploy.rollout.steps=[]``): the figure is the loop's own latency.

    .venv/bin/python bench/bench_label_to_production.py --repeats 3
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_income import automl_executable, write_result  # noqa: E402

from automl.loop.sampling import sample  # noqa: E402
from automl.plugins.manager import get_plugins  # noqa: E402
from automl.serve.api_keys import KeyStore  # noqa: E402
from automl.serve.client import Client  # noqa: E402
from automl.serve.local import LocalServer  # noqa: E402
from automl.store.invokes import query_invokes  # noqa: E402
from automl.store.reviews import Annotation, ReviewStore  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LOOP = [
    "loop.interval_s=1",
    "loop.monitor_interval_s=3600",
    "loop.retrain_on=[annotations]",
    "loop.sample=false",
    "monitor.per_day=1000",
    "deploy.rollout.steps=[]",
]


def wait(condition: Any, timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what} within {timeout} s")


def spam_case(folder: Path) -> tuple[list[str], list[Any], list[str]]:
    frame = pd.read_csv(DATA / "sms_spam" / "sms_spam.csv").sample(frac=1.0, random_state=0)
    train, traffic = frame.iloc[:2000], frame.iloc[2000:2300]
    path = folder / "spam_train.csv"
    train.to_csv(path, index=False)
    return [f"data.path={path}"], traffic["text"].astype(str).tolist(), traffic["label"].tolist()


def dog_case(folder: Path) -> tuple[list[str], list[Any], list[str]]:
    manifest = pd.read_csv(DATA / "dog_vs_not_cifar10" / "manifest.csv")
    rows = manifest.sample(n=min(120, len(manifest)), random_state=0)
    paths = [DATA / "dog_vs_not_cifar10" / str(p) for p in rows["file"]]
    return [], paths, rows["label"].astype(str).tolist()


CASES = {"spam_filter": spam_case, "dog_classifier": dog_case}


def measure(name: str, repeats: int, keep: Path) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix=f"l2p-{name}-", dir=keep))
    ws = folder / "ws"
    overrides, inputs, labels = CASES[name](folder)
    env = {**os.environ, "AUTOML_WORKSPACE": str(ws)}
    started = time.perf_counter()
    first = subprocess.run(
        [*automl_executable(), "run", f"recipe={name}", *overrides, *LOOP], env=env, capture_output=True, text=True
    )
    if first.returncode != 0:
        raise RuntimeError(first.stderr[-3000:])
    first_s = time.perf_counter() - started
    key = KeyStore(ws).add(name, "bench")[1]
    truth: dict[str, str] = {}
    seconds: list[float] = []
    runs: list[float] = []
    with LocalServer.start(ws, [name], folder / "serve.log") as server:
        client = Client(server.url, api_key=key)
        for x, label in zip(inputs, labels, strict=True):
            (answer,) = client.predict(name, [x])
            truth[answer.invoke_id] = label
        wait(lambda: len(query_invokes(ws, "SELECT invoke_id FROM invokes")) >= len(inputs), 60, "invokes published")
        err = (folder / "watch.err").open("w")
        watcher = subprocess.Popen(
            [*automl_executable(), "loop", f"recipe={name}", "watch=true", *overrides, *LOOP],
            env=env, stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
        try:
            wait(lambda: "watching" in (folder / "watch.err").read_text(), 120, "the watcher to start")
            reviews = ReviewStore(ws)
            for _ in range(repeats):
                production = client.predict(name, [inputs[0]])[0].version
                (item,) = sample(ws, name, get_plugins(), n=1).picked
                at = datetime.now(timezone.utc).replace(tzinfo=None)
                note = Annotation(
                    item.content_id, name, truth[item.invoke_id], "bench", at, "import", item.item_id,
                    item.input_json, item.input_blob,
                )  # fmt: skip
                t0 = time.perf_counter()
                reviews.annotate([note])
                wait(
                    lambda: client.predict(name, [inputs[0]])[0].version > production,  # noqa: B023
                    600, "a new production version",
                )  # fmt: skip
                seconds.append(time.perf_counter() - t0)
                print(f"{name}: reviewed label in production after {seconds[-1]:.1f} s", flush=True)
        finally:
            watcher.send_signal(signal.SIGTERM)
            watcher.wait(timeout=300)
            err.close()
        server.stop()
    for summary in sorted((ws / "runs" / name).glob("*/summary.json"))[1:]:
        runs.append(float(pd.read_json(summary, typ="series")["duration_s"]))
    return {
        "first_run_s": round(first_s, 1),
        "label_to_production_s": [round(s, 2) for s in seconds],
        "median_s": round(statistics.median(seconds), 2),
        "retrain_run_s": runs,
        "watcher_exit": watcher.returncode,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--recipes", nargs="+", default=list(CASES), choices=list(CASES))
    args = parser.parse_args()
    keep = Path(tempfile.mkdtemp(prefix="bench-l2p-"))
    body = {name: measure(name, args.repeats, keep) for name in args.recipes}
    for name, result in body.items():
        print(f"{name}: median {result['median_s']} s from a reviewed label to production ({result})")
    write_result("label_to_production", args, ("automl", "torch", "ray"), body)


if __name__ == "__main__":
    main()
