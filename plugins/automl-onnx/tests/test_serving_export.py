"""The exported copy is what answers: ``automl.load`` and ``automl serve`` use a version's ONNX
export when it passed its check, say so (``Predictor.runtime``, the response's ``runtime``,
``automl models``), give the native model's labels and probabilities within 1e-5 on real rows,
and fall back to the native model (saying why) when the export is missing or failed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
SHARED_DATA = Path(os.environ.get("AUTOML_SHARED_DATA", REPO.parent / "shared" / "data"))
CSV = SHARED_DATA / "adult_income" / "adult.csv"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The income recipe (LightGBM and histogram gradient boosting) on 3,000 rows, exported."""
    import automl
    from automl.testing import local_ray

    if not CSV.is_file():
        pytest.skip(f"shared datasets not found at {SHARED_DATA}")
    folder = tmp_path_factory.mktemp("served-export")
    data = folder / "adult.csv"
    pd.read_csv(CSV).sample(3000, random_state=0).to_csv(data, index=False)
    overrides = {
        "data.path": str(data),
        "search.max_trials": 2,
        "search.time_budget_s": None,
        "search.scheduler": "fifo",
        "search.trainers": ["lightgbm", "hist_gradient_boosting"],
        "eval.cv_folds": 3,
        "eval.feature_importance": False,
        "deploy.export": "onnx",
    }
    with local_ray():
        summary = automl.run("income", workspace=str(folder / "ws"), **overrides)
    assert summary["export"]["exported"], summary["export"]
    yield folder / "ws"


def rows() -> pd.DataFrame:
    return pd.read_csv(CSV).drop(columns=["income", "fnlwgt"]).sample(500, random_state=1)


def test_load_answers_with_the_export_and_agrees_with_the_native_model(exported: Path) -> None:
    import automl

    fast = automl.load("income", workspace=str(exported))
    slow = automl.load("income", workspace=str(exported), runtime="native")
    assert (fast.runtime, slow.runtime) == ("onnx", "native")
    frame = rows()
    np.testing.assert_allclose(fast.predict_proba(frame).to_numpy(), slow.predict_proba(frame).to_numpy(), atol=1e-5)
    assert (fast.predict(frame) == slow.predict(frame)).all()
    records = [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in frame.to_dict("records")]
    np.testing.assert_array_equal(fast.predict_proba(records).to_numpy(), fast.predict_proba(frame).to_numpy())


def test_a_missing_or_failed_export_answers_natively_and_says_why(exported: Path, tmp_path: Path) -> None:
    import automl
    from automl.registry.store import ModelStore

    ws = tmp_path / "ws"
    shutil.copytree(exported, ws)
    store = ModelStore(ws)
    shutil.rmtree(store.version_dir("income", 1) / "export")
    missing = automl.load("income", workspace=str(ws))
    assert missing.runtime == "native" and "missing" in missing.choice.why
    bundle = store.version_dir("income", 1) / "bundle.json"
    meta = json.loads(bundle.read_text())
    meta["export"] = {**meta["export"], "exported": False, "reason": "max |p - p_native| 0.2 > 1e-4"}
    bundle.write_text(json.dumps(meta))
    failed = automl.load("income", workspace=str(ws))
    assert failed.runtime == "native" and "failed its check" in failed.choice.why
    listed = subprocess.run(
        [sys.executable, "-m", "automl", "models", f"workspace={ws}", "--json"], capture_output=True, text=True
    )
    assert json.loads(listed.stdout)[0]["runtime"] == "native"


@pytest.mark.parametrize("runtime", ["auto", "native"])
def test_the_server_answers_with_the_export_unless_told_not_to(exported: Path, tmp_path: Path, runtime: str) -> None:
    import automl
    from automl.serve.api_keys import KeyStore
    from automl.serve.client import Client
    from automl.serve.local import LocalServer
    from automl.store.invokes import query_invokes

    key = KeyStore(exported).add("income", "test")[1]
    frame = rows().head(20)
    records = [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in frame.to_dict("records")]
    with LocalServer.start(exported, ["income"], tmp_path / "serve.log", runtime=runtime) as server:
        answers = Client(server.url, api_key=key).predict("income", records)
        assert server.stop() == 0
    expected = "onnx" if runtime == "auto" else "native"
    assert {a.runtime for a in answers} == {expected}
    ids = {a.invoke_id for a in answers}
    deadline = time.monotonic() + 60
    while True:  # the server published its last invokes as it stopped; a reader may see them late
        logged = query_invokes(exported, "SELECT invoke_id, runtime FROM invokes")
        by_id = dict(zip(logged["invoke_id"], logged["runtime"], strict=True))
        if ids <= set(by_id) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert {by_id[a.invoke_id] for a in answers} == {expected}  # the invoke log says so too
    native = automl.load("income", workspace=str(exported), runtime="native").predict(frame)
    assert [a.label for a in answers] == list(native)
