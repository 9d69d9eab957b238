"""Image and text models answer with their ONNX export too (``deploy.export: auto``), and the
embedding the invoke log keeps still comes out: the served copy's label is the native model's and
each logged embedding is the native backbone's, within float tolerance; concurrent clients on the
server's several workers are all answered by the export, and every answer is logged."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
SHARED_DATA = Path(os.environ.get("AUTOML_SHARED_DATA", REPO.parent / "shared" / "data"))
PETS = SHARED_DATA / "dog_vs_not_oxford_pets"
SMS = SHARED_DATA / "sms_spam" / "sms_spam.csv"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """dog_classifier (EfficientNet-Lite0 embeddings) and a MiniLM spam_filter on 300 messages,
    both exported by default, in one workspace."""
    import automl
    from automl.testing import local_ray

    if not PETS.is_dir() or not SMS.is_file():
        pytest.skip(f"shared datasets not found at {SHARED_DATA}")
    folder = tmp_path_factory.mktemp("served-media")
    texts = folder / "sms.csv"
    frame = pd.read_csv(SMS)
    pd.concat([frame[frame["label"] == label].sample(150, random_state=0) for label in ("ham", "spam")]).to_csv(
        texts, index=False
    )
    common = {"search.time_budget_s": None, "search.max_trials": 2, "eval.cv_folds": 3}
    with local_ray():
        dogs = automl.run(
            "dog_classifier", workspace=str(folder / "ws"), **common, **{"search.trainers": ["linear_probe"]}
        )
        spam = automl.run(
            "spam_filter",
            workspace=str(folder / "ws"),
            **common,
            **{"data.path": str(texts), "search.trainers": ["linear_probe"], "search.backbones": ["all_minilm_l6_v2"]},
        )
    for summary in (dogs, spam):
        assert summary["export"]["exported"] and summary["export"]["embedding"], summary["export"]
    yield folder / "ws"


def _logged(workspace: Path, ids: set[str]) -> pd.DataFrame:
    from automl.store.invokes import query_invokes

    deadline = time.monotonic() + 60
    while True:  # the server publishes its last invokes as it stops; a reader may see them late
        logged = query_invokes(workspace, "SELECT invoke_id, runtime, embedding FROM invokes")
        if ids <= set(logged["invoke_id"]) or time.monotonic() > deadline:
            return logged.set_index("invoke_id").loc[sorted(ids)]
        time.sleep(0.1)


@pytest.mark.parametrize("model", ["dog_classifier", "spam_filter"])
def test_served_export_logs_the_native_embedding(trained: Path, tmp_path: Path, model: str) -> None:
    import automl
    from automl.serve.api_keys import KeyStore
    from automl.serve.client import Client
    from automl.serve.local import LocalServer

    if model == "dog_classifier":
        inputs: list = sorted(PETS.glob("*/*.jpg"))[::37][:8]
        native_inputs = [str(p) for p in inputs]
    else:
        inputs = pd.read_csv(SMS)["text"].sample(8, random_state=3).tolist()
        native_inputs = inputs
    assert automl.load(model, workspace=str(trained)).runtime == "onnx"
    key = KeyStore(trained).add(model, "test")[1]
    with LocalServer.start(trained, [model], tmp_path / "serve.log") as server:
        client = Client(server.url, api_key=key)
        answers = client.predict(model, inputs)
        # four clients at once, one input per request, on the server's workers (workers=auto:
        # one per core for a backbone): every answer is the export's, and every one is logged
        with ThreadPoolExecutor(4) as pool:
            concurrent = [a for batch in pool.map(lambda x: client.predict(model, [x]), inputs * 2) for a in batch]
        assert server.stop() == 0
    assert {a.runtime for a in concurrent} == {"onnx"} and len(concurrent) == 2 * len(inputs)
    assert [a.label for a in concurrent] == [a.label for a in answers] * 2
    assert {a.runtime for a in answers} == {"onnx"}
    native = automl.load(model, workspace=str(trained), runtime="native")
    proba, vectors = native.predict_proba_and_embedding(native_inputs)
    assert [a.label for a in answers] == list(native.labels(proba.to_numpy()))
    logged = _logged(trained, {a.invoke_id for a in answers + concurrent})
    assert len(logged) == 3 * len(inputs) and set(logged["runtime"]) == {"onnx"}
    served = np.stack([np.asarray(logged.loc[a.invoke_id, "embedding"], dtype=np.float32) for a in answers])
    assert served.shape == vectors.shape
    np.testing.assert_allclose(served, vectors, atol=1e-3 * max(1.0, float(np.abs(vectors).max())))
