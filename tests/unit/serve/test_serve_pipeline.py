"""The core's request pipeline through the in-process fake backend (``automl.testing``): no HTTP
server and no processes, so every step of a request is checked in milliseconds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from automl.builtin.trainers import LogisticRegressionConfig, build_logistic_regression
from automl.features.tabular import FeatureSchema
from automl.features.views import FEATURES_VIEW, TabularView
from automl.model.fitted import FittedMember, FittedModel
from automl.registry.promote import promote
from automl.registry.store import ModelStore
from automl.serve.api_keys import KeyStore
from automl.serve.config import ServeConfig
from automl.store.invokes import query_invokes
from automl.testing import InProcessServer, tabular_problem

ROW = {"x_signal": 2.0, "x_noise": 0.1, "colour": "red"}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    frame, y, ctx = tabular_problem()
    estimator = build_logistic_regression(LogisticRegressionConfig(), ctx).fit(frame, y)
    schema = FeatureSchema.infer(frame)
    model = FittedModel("tabular_classification", ["a", "b", "c"], {FEATURES_VIEW: TabularView(schema)},
                        [FittedMember(FEATURES_VIEW, estimator, 1.0)])  # fmt: skip
    store = ModelStore(tmp_path)
    meta = {"task": "tabular_classification", "classes": ["a", "b", "c"], "features": list(frame.columns)}
    promote(store, "m", store.register("m", model, meta))
    store.register("m", model, meta)  # version 2: loadable by number, not routed
    return tmp_path


@pytest.fixture
def server(workspace: Path) -> Iterator[InProcessServer]:
    with InProcessServer(ServeConfig(str(workspace), ("m",), max_inputs=3, max_inflight=4)) as s:
        yield s


def key(workspace: Path) -> str:
    return KeyStore(workspace).add("m", "test")[1]


def test_a_prediction_is_answered_and_logged(server: InProcessServer, workspace: Path) -> None:
    answer = server.predict("m", [ROW, ROW], key(workspace))
    assert answer.status == 200, answer.body
    assert answer.body["version"] == 1 and answer.body["route"] == "production"
    assert [p["label"] for p in answer.body["predictions"]] == ["c", "c"]
    ids = {p["invoke_id"] for p in answer.body["predictions"]}
    server.close()  # the writer publishes its parts
    logged = query_invokes(workspace, "SELECT invoke_id, label FROM invokes")
    assert set(logged["invoke_id"]) == ids and set(logged["label"]) == {"c"}


def test_every_refusal_has_its_status(server: InProcessServer, workspace: Path) -> None:
    secret = key(workspace)
    assert server.predict("nope", [ROW], secret).status == 404
    assert server.predict("m", [ROW], None).status == 401
    assert server.predict("m", [ROW], "wrong").status == 401
    assert server.predict("m", [ROW], secret, version=9).status == 404
    assert server.predict("m", [ROW] * 4, secret).status == 422  # max_inputs=3
    assert server.predict("m", [{"x_signal": "high"}], secret).status == 422
    assert server.predict("m", [b"bytes"], secret).status == 422
    pinned = server.predict("m", [ROW], secret, version=2)
    assert pinned.status == 200 and (pinned.body["version"], pinned.body["route"]) == (2, "pinned")


def test_a_shadow_is_called_and_logged_but_never_answers(server: InProcessServer, workspace: Path) -> None:
    ModelStore(workspace).update_rollout("m", lambda state: state.with_shadow(2))
    answer = server.predict("m", [ROW], key(workspace))
    assert answer.status == 200 and answer.body["version"] == 1
    server.settle()
    server.close()
    routes = query_invokes(workspace, "SELECT version, route FROM invokes ORDER BY version")
    assert list(zip(routes["version"], routes["route"], strict=True)) == [(1, "production"), (2, "shadow")]


def test_metrics_count_each_answer(server: InProcessServer, workspace: Path) -> None:
    server.predict("m", [ROW], key(workspace))
    server.predict("m", [ROW], None)
    text = server.pipeline.metrics_text({})
    assert 'automl_requests_total{model="m",version="1",route="production",status="200"} 1' in text
    assert 'status="401"} 1' in text
    assert server.pipeline.ready(workers_ready=True) and not server.pipeline.ready(workers_ready=False)


def test_callers_flag_invokes_when_predicting_or_later(server: InProcessServer, workspace: Path) -> None:
    from automl.store.reviews import ReviewStore

    secret = key(workspace)
    answer = server.predict("m", [ROW, ROW], secret, flag="a customer complained")
    flagged = [p["invoke_id"] for p in answer.body["predictions"]]
    later = server.predict("m", [ROW], secret).body["predictions"][0]["invoke_id"]
    assert server.flag("m", later, secret, "wrong on review").status == 200
    assert server.flag("m", later, None).status == 401
    assert server.flag("m", "not-an-id", secret).status == 422
    assert server.flag("nope", later, secret).status == 404
    server.settle()
    saved = ReviewStore(workspace).flags("m")
    assert saved == {**{i: "a customer complained" for i in flagged}, later: "wrong on review"}
