"""A CI-style loop on real data with real components: a text model served (LitServe on
127.0.0.1) under steady traffic; ``automl loop`` monitors and samples; the test plays the
reviewer; the next ``automl loop`` retrains on the reviews, passes the gate and starts the rollout,
which the server walks to production; then ``automl loop watch=true`` takes a reviewed label to
production with nobody running a command, and stops cleanly on SIGTERM. No request fails, every
answer is logged, and the audit trail tells the whole story."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import automl
from automl.registry.store import ModelStore
from automl.serve.api_keys import KeyStore
from automl.serve.client import Client
from automl.serve.local import LocalServer
from automl.store.invokes import query_invokes
from tests.helpers import wait_for
from tests.integration.conftest import review_queue, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.process, pytest.mark.usefixtures("local_ray")]
SETTINGS: dict[str, Any] = {
    "search.time_budget_s": None,
    "search.max_trials": 2,
    "search.scheduler": "fifo",
    "search.mode": "search",
    "search.trainers": ["linear_probe"],
    "monitor.per_day": 500,
    "monitor.alpha": 1e-6,  # traffic from the training distribution: no false alarm decides the exit code
    "loop.retrain_on": ["annotations"],
    "loop.interval_s": 1.0,
    "deploy.rollout.steps": ["shadow", 50, 100],
    "deploy.rollout.interval_s": 1.0,
    "deploy.rollout.min_requests": 20,
    "deploy.rollout.step_requests": 30,
    "deploy.rollout.min_agreement": 0.7,
    "deploy.rollout.latency_slack_ms": 500.0,
}


def overrides(settings: dict[str, Any]) -> list[str]:
    def value(v: Any) -> str:
        if isinstance(v, list):
            return "[" + ",".join(str(x) for x in v) + "]"
        return "null" if v is None else str(v)

    return [f"{k}={value(v)}" for k, v in settings.items()]


class Traffic:
    """One client sending one message per request until stopped; the true label of every answer."""

    def __init__(self, url: str, key: str, texts: list[str], labels: list[str]) -> None:
        self.client = Client(url, api_key=key)
        self.texts, self.labels = texts, labels
        self.truth: dict[str, str] = {}
        self.versions: set[int] = set()
        self.errors: list[BaseException] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.send)

    def send(self) -> None:
        i = 0
        while not self.stop.is_set():
            text, label = self.texts[i % len(self.texts)], self.labels[i % len(self.texts)]
            try:
                (answer,) = self.client.predict("spam_filter", [text])
                self.truth[answer.invoke_id] = label
                self.versions.add(answer.version)
            except BaseException as err:  # noqa: BLE001 - the test asserts there are none
                self.errors.append(err)
            i += 1

    def __enter__(self) -> Traffic:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)


def test_a_ci_pass_and_a_watcher_take_reviewed_labels_to_production(tmp_path: Path, shared_data: Path) -> None:
    frame = pd.read_csv(shared_data / "sms_spam" / "sms_spam.csv").sample(frac=1.0, random_state=0)
    first, traffic = frame.iloc[:150], frame.iloc[150:1150]
    ws, data = tmp_path / "ws", tmp_path / "first.csv"
    first.to_csv(data, index=False)
    settings = {**SETTINGS, "data.path": str(data)}
    assert automl.run("spam_filter", workspace=str(ws), **settings)["model"]["version"] == 1
    loop = ["loop", "recipe=spam_filter", f"workspace={ws}", *overrides(settings)]

    key = KeyStore(ws).add("spam_filter", "loop")[1]
    texts, labels = traffic["text"].astype(str).tolist(), traffic["label"].tolist()
    with LocalServer.start(ws, ["spam_filter"], tmp_path / "serve.log") as server:
        with Traffic(server.url, key, texts, labels) as sent:
            wait_for(lambda: len(sent.truth) >= 300 or None, timeout=120, what="300 answered requests")
            wait_for(
                lambda: len(query_invokes(ws, "SELECT invoke_id FROM invokes")) >= 300 or None,
                timeout=60, what="300 invokes published",
            )  # fmt: skip

            # A pass with nothing reviewed yet: monitored, a batch sent for review, no retrain.
            done = run_cli(*loop, "--json", "loop.min_annotations=10")
            assert done.returncode == 0, done.stderr
            report = json.loads(done.stdout)
            assert report["sampled"] > 0 and not report["triggers"] and report["run"] is None
            reviewed = review_queue(ws, "spam_filter", sent.truth, tmp_path / "reviewed.csv")

            # The next pass retrains on the reviews and starts the rollout; the server walks it.
            done = run_cli(*loop, "loop.min_annotations=10")
            assert done.returncode == 0, done.stderr
            assert f"annotations ({reviewed} new)" in done.stdout and "v2 rollout started" in done.stdout
            wait_for(
                lambda: ModelStore(ws).rollout("spam_filter").production == 2 or None,
                timeout=120, what="version 2 to reach production through the rollout",
            )  # fmt: skip

            # The watcher: one more reviewed label reaches production by itself.
            out_file, err_file = tmp_path / "watch.out", tmp_path / "watch.err"
            with out_file.open("w") as out, err_file.open("w") as err:
                watcher = subprocess.Popen(
                    [sys.executable, "-m", "automl", *loop, "watch=true", "deploy.rollout.steps=[100]"],
                    stdout=out, stderr=err, text=True, env=os.environ.copy(),
                )  # fmt: skip
            try:
                wait_for(lambda: "watching" in err_file.read_text() or None, timeout=60, what="the watcher")
                done = run_cli("sample", "model=spam_filter", "n=1", f"workspace={ws}")
                assert done.returncode == 0, done.stderr
                review_queue(ws, "spam_filter", sent.truth, tmp_path / "one.csv")
                wait_for(
                    lambda: ModelStore(ws).rollout("spam_filter").production == 3 or None,
                    timeout=180, what="the watcher to put version 3 in production",
                )  # fmt: skip
            finally:
                watcher.send_signal(signal.SIGTERM)
                watcher.wait(timeout=120)
            err = err_file.read_text()
            assert watcher.returncode == 0 and "loop: stopped" in err, err[-2000:]
            assert "v3 production" in out_file.read_text()
            wait_for(lambda: 3 in sent.versions or None, timeout=60, what="version 3 to answer")
        assert not sent.errors, sent.errors[:3]
        assert server.stop() == 0
    logged = set(query_invokes(ws, "SELECT invoke_id FROM invokes WHERE route <> 'shadow'")["invoke_id"])
    assert set(sent.truth) <= logged

    history = run_cli("models", "history", "model=spam_filter", f"workspace={ws}").stdout.splitlines()
    actions = [line.split()[2] for line in history]
    assert actions == ["promote", "rollout", "step", "rollout", "promote"], history
    assert "step 3 of 3" not in "\n".join(history)  # 100 is the end: production, not a step
    assert "no production version yet" in history[0]
    assert "(changed data)" in history[1] or "refit on this run's data" in history[1]  # reviews changed the data
