"""The server's core pieces, without a server: config, inputs, routing, predictions, records, metrics."""

from __future__ import annotations

import os
import random
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from automl.cli.args import Args
from automl.cli.serve import serve_config
from automl.errors import UserError
from automl.registry.rollout import RolloutState
from automl.serve.config import MAX_AUTO_WORKERS, ServeConfig, auto_workers, check_models
from automl.serve.inputs import InputError, TabularSchema, check_rows, check_texts, decode_images
from automl.serve.metrics import Metrics
from automl.serve.predict import predict, serving_threads
from automl.serve.records import make_records
from automl.serve.routing import PINNED, pick, pinned
from automl.store.invokes.record import ROUTES

SCHEMA = TabularSchema(("age", "city"), frozenset({"age"}))


def test_models_argument() -> None:
    assert Args(["models=[a, b,a]"], False).names("models") == ["a", "b"]
    assert check_models(["a", "b", "a"]) == ("a", "b")
    for names in ([], ["a:1"], ["a@candidate"]):
        with pytest.raises(UserError):
            check_models(names)


def test_config_round_trips() -> None:
    config = ServeConfig("/ws", ("a", "b"), port=9000, log_invokes=False)
    assert ServeConfig.from_json(config.to_json()) == config


def test_rows_are_checked_and_never_become_nan() -> None:
    assert check_rows([{"age": 3, "city": "oslo", "extra": 1}], SCHEMA) == [{"age": 3, "city": "oslo"}]
    assert check_rows([{"age": None, "city": None}], SCHEMA) == [{"age": None, "city": None}]
    bad = [{"age": "abc", "city": "x"}, {"age": True, "city": "x"}, {"age": float("nan"), "city": "x"},
           {"age": 1, "city": ["x"]}, {"city": "x"}, "text"]  # fmt: skip
    for row in bad:
        with pytest.raises(InputError):
            check_rows([row], SCHEMA)
    # a category given as a number becomes its text, the same in any batch and either runtime
    rows = [{"age": 1, "city": 94110}, {"age": 1, "city": None}, {"age": 1, "city": 94110.0}]
    assert [r["city"] for r in check_rows(rows, SCHEMA)] == ["94110", None, "94110"]


def test_texts_and_images() -> None:
    assert check_texts(["a"]) == ["a"]
    with pytest.raises(InputError):
        check_texts([{"a": 1}])
    assert decode_images(["aGk=", b"raw"]) == [b"hi", b"raw"]
    with pytest.raises(InputError):
        decode_images(["not base64!"])


def test_routing_pins_versioned_requests_and_names_the_shadow() -> None:
    state = RolloutState("m", production=1).with_canary(2, 30)
    rng = random.Random(0)
    routes = {pick(state, None, rng).route for _ in range(200)}
    assert routes == {"production", "canary"}
    assert len({pick(state, "client-7", rng).version for _ in range(20)}) == 1
    shadow = RolloutState("m", production=1).with_shadow(2)
    assert pick(shadow, None, rng) == pick(shadow, "k", rng) and pick(shadow, None, rng).shadow == 2
    assert pinned(2).route == PINNED and PINNED in ROUTES


def test_predict_labels_by_the_models_own_decision_rule() -> None:
    from automl.evaluate.scoring import decide
    from automl.model.predictor import Predictor
    from automl.registry.meta import BundleMeta

    proba = np.array([[0.7, 0.3], [0.2, 0.8]])

    class Model:  # the server never reads a threshold attribute: it asks the model to decide
        views = {"f": SimpleNamespace(schema=SCHEMA)}

        def __init__(self, cutoff: float | None) -> None:
            self.cutoff = cutoff

        def predict_proba_and_embedding(self, rows: pd.DataFrame) -> tuple[np.ndarray, None]:
            return proba[: len(rows)], None

        def decide(self, p: np.ndarray) -> np.ndarray:
            return decide(p, self.cutoff)

    meta = BundleMeta(classes=["no", "yes"], features=["age", "city"], name="m", version=1)
    rows = [{"age": 30, "city": "oslo"}, {"age": 40.0, "city": "rome"}]
    out = predict(Predictor(Model(0.25), meta), rows)
    assert out.labels == ["yes", "yes"]  # argmax would say "no" for the first
    assert out.scores[0] == {"no": 0.7, "yes": 0.3}
    assert predict(Predictor(Model(None), meta), rows).labels == ["no", "yes"]
    with pytest.raises(InputError):
        predict(Predictor(Model(0.25), meta), [{"age": "x", "city": "oslo"}])


def test_an_embedding_model_returns_the_embedding_it_classified() -> None:
    from automl.features.views import EmbeddingView
    from automl.model.fitted import FittedMember, FittedModel
    from automl.model.predictor import Predictor
    from automl.registry.meta import BundleMeta

    class Lengths:  # an embedder: each text as (length, vowels)
        def embed(self, texts: list[str]) -> np.ndarray:
            return np.array([[len(t), sum(c in "aeiou" for c in t)] for t in texts], dtype=np.float32)

    from sklearn.linear_model import LogisticRegression

    X = pd.DataFrame({"e0": [1.0, 2, 8, 9], "e1": [0.0, 1, 3, 4]})
    head = LogisticRegression().fit(X, [0, 0, 1, 1])
    model = FittedModel("text_classification", ["short", "long"], {"backbone:len": EmbeddingView(Lengths())},
                        [FittedMember("backbone:len", head, 1.0)])  # fmt: skip
    meta = BundleMeta(name="t", version=1, classes=["short", "long"], task="text_classification")
    out = predict(Predictor(model, meta), ["hi", "a longer text"])
    assert out.labels == ["short", "long"]
    assert out.embeddings == [[2.0, 1.0], [13.0, 4.0]]
    (record,) = make_records("t", 1, "production", ["hi"], out.to_dict(), 1.0, None)
    assert record.embedding == [2.0, 1.0]


def test_records_carry_the_key_id() -> None:
    output = {"labels": ["a"], "scores": [{"a": 1.0}], "content_ids": ["c"]}
    (record,) = make_records("m", 3, "canary", [{"x": 1}], output, 2.0, "kid", ["inv"])
    assert record.embedding is None
    assert (record.model, record.version, record.route, record.key_id, record.invoke_id) == (
        "m",
        3,
        "canary",
        "kid",
        "inv",
    )


def test_metrics_text_format() -> None:
    metrics = Metrics()
    metrics.observe("m", "1", "production", 200, 0.02)
    text = metrics.render({"automl_inflight_requests": 0})
    assert 'automl_requests_total{model="m",version="1",route="production",status="200"} 1' in text
    assert 'automl_request_seconds_bucket{model="m",version="1",route="production",le="0.025"} 1' in text
    assert "automl_inflight_requests 0" in text


def test_serve_options_are_checked_against_the_workspace(tmp_path) -> None:
    from automl.registry.store import ModelStore

    store = ModelStore(tmp_path)
    from automl.registry.promote import promote

    store.register("m", {"a": "model"}, {"task": "tabular_classification", "classes": ["a", "b"]})
    with pytest.raises(UserError, match="no production version"):
        serve_config(Args(["model=m"], False), tmp_path)
    promote(store, "m", 1)
    values = {"model": "m", "port": "9000", "timeout_s": "2.5", "grace_s": "5", "max_inputs": "8"}
    config = serve_config(Args([f"{k}={v}" for k, v in values.items()], False), tmp_path)
    assert (config.port, config.timeout_s, config.grace_s, config.max_inputs) == (9000, 2.5, 5.0, 8)
    assert config.workers == 1  # workers=auto: a table model's server is front-bound, one worker
    assert serve_config(Args(["model=m", "workers=auto"], False), tmp_path).workers == 1
    assert serve_config(Args(["model=m", "workers=3"], False), tmp_path).workers == 3
    store.register("img", {"a": "model"}, {"task": "image_classification", "classes": ["a", "b"]})
    promote(store, "img", 1)
    both = serve_config(Args(["models=[m,img]"], False), tmp_path)
    assert both.workers == auto_workers(["image_classification"]) == min(MAX_AUTO_WORKERS, os.cpu_count() or 1)
    backbone = ["text_classification"]
    assert (auto_workers(backbone, 1), auto_workers(backbone, 2), auto_workers(backbone, 64)) == (1, 2, 4)
    bad = [{"model": "nope"}, {"model": "m", "port": "0"}, {"model": "m", "timeout_s": "-1"},
           {"model": "m", "workers": "0"}, {"model": "m", "workers": "many"},
           {"model": "m", "grace_s": "abc"}, {"model": "m", "max_inputs": "0"}, {"models": "[]"},
           {}, {"model": "m", "models": "[m]"}, {"model": "m", "colour": "red"}]  # fmt: skip
    for values in bad:
        with pytest.raises(UserError):
            serve_config(Args([f"{k}={v}" for k, v in values.items()], False), tmp_path)


def test_a_served_backbone_shares_the_cores_among_workers_and_a_table_takes_one() -> None:
    assert serving_threads("tabular_classification", workers=1, cores=16) == 1
    assert serving_threads("image_classification", workers=1, cores=2) == 2
    assert serving_threads("text_classification", workers=4, cores=16) == 4
    assert serving_threads("image_classification", workers=4, cores=2) == 1


def test_a_served_native_backbone_runs_on_the_workers_threads() -> None:
    from automl.features.views import EmbeddingView
    from automl.model.exported import ExportedModel
    from automl.model.fitted import FittedModel
    from automl.serve.predict import _limit_backbone_threads

    embedder = SimpleNamespace(num_threads=None)
    native = FittedModel("text_classification", ["a", "b"], {"backbone:x": EmbeddingView(embedder)}, [])
    _limit_backbone_threads(native, 1)
    assert embedder.num_threads == 1
    _limit_backbone_threads(ExportedModel(native, runtime=None), 3)
    assert embedder.num_threads == 3
