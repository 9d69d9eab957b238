"""The whole loop on real data, with real components: train a text model on a few messages,
serve it (LitServe on 127.0.0.1), send it traffic, sample for review, play the reviewer with the
true labels, retrain on the data plus the reviews: the new model does better on held-out
messages than the first, and no invoke or review is lost."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import f1_score

import automl
from automl.serve.api_keys import KeyStore
from automl.serve.client import Client
from automl.serve.local import LocalServer
from automl.store.invokes import query_invokes
from automl.store.reviews import ReviewStore
from tests.helpers import wait_for
from tests.integration.conftest import review_queue, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.process, pytest.mark.usefixtures("local_ray")]
RECIPE = {"search.time_budget_s": None, "search.max_trials": 4, "search.scheduler": "fifo", "search.mode": "search"}


def test_serve_sample_review_retrain(tmp_path: Path, shared_data: Path) -> None:
    frame = pd.read_csv(shared_data / "sms_spam" / "sms_spam.csv").sample(frac=1.0, random_state=0)
    first, traffic, held_out = frame.iloc[:120], frame.iloc[120:1620], frame.iloc[1620:2620]
    ws, data = tmp_path / "ws", tmp_path / "first.csv"
    first.to_csv(data, index=False)
    settings = {**RECIPE, "data.path": str(data), "monitor.per_day": 150, "search.trainers": ["linear_probe"]}
    v1 = automl.run("spam_filter", workspace=str(ws), **settings)
    assert v1["model"]["version"] == 1

    key = KeyStore(ws).add("spam_filter", "loop")[1]
    with LocalServer.start(ws, ["spam_filter"], tmp_path / "serve.log") as server:
        client = Client(server.url, api_key=key)
        truth: dict[str, str] = {}
        texts, labels = traffic["text"].astype(str).tolist(), traffic["label"].tolist()
        answers = client.predict("spam_filter", texts[:2], flag="a customer complained")
        flagged = [p.invoke_id for p in answers]
        truth.update({p.invoke_id: label for p, label in zip(answers, labels[:2], strict=True)})
        for start in range(2, len(texts), 100):
            answers = client.predict("spam_filter", texts[start : start + 100])
            truth.update({p.invoke_id: label for p, label in zip(answers, labels[start : start + 100], strict=True)})
        reported = next(reversed(truth))
        client.flag("spam_filter", reported, "a user reported it")
        flagged.append(reported)
        assert server.stop() == 0
    logged = wait_for(
        lambda: len(query_invokes(ws, "SELECT invoke_id FROM invokes")) == len(truth) or None,
        timeout=60, what="every invoke to be published",
    )  # fmt: skip
    assert logged and set(query_invokes(ws, "SELECT invoke_id FROM invokes")["invoke_id"]) == set(truth)

    done = run_cli("sample", "model=spam_filter", "n=150", f"workspace={ws}")
    assert done.returncode == 0, done.stderr
    queue = ReviewStore(ws).items("spam_filter")
    assert len(queue) == 150
    assert {i.invoke_id for i in queue if i.sampler == "flagged"} == set(flagged)  # flagged ones come first
    assert review_queue(ws, "spam_filter", truth, tmp_path / "reviewed.csv") == 150
    assert len(ReviewStore(ws).annotations("spam_filter")) == 150 and not ReviewStore(ws).items("spam_filter")

    v2 = automl.run("spam_filter", workspace=str(ws), **settings)
    assert v2["data"]["from_reviews"] == 150 and v2["data"]["rows"] == 120 + 150
    scores = []
    for ref in ("spam_filter:1", "spam_filter:2"):
        predicted = automl.load(ref, str(ws)).predict(held_out["text"].astype(str).tolist())
        scores.append(f1_score(held_out["label"], predicted, average="macro"))
    assert scores[1] > scores[0], scores
