"""End to end: ``automl run`` with ``deploy.export: onnx`` exports the refit winner into the
registered version, and the exported graph predicts what ``automl.load`` predicts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
SHARED_DATA = Path(os.environ.get("AUTOML_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    from automl.testing import local_ray as start_local_ray

    with start_local_ray():
        yield


def test_a_run_exports_the_winner_with_the_version(local_ray, tmp_path: Path):
    from automl_onnx.runtime import OnnxModel

    import automl

    csv = SHARED_DATA / "penguins" / "penguins.csv"
    if not csv.is_file():
        pytest.skip(f"shared datasets not found at {SHARED_DATA}")
    overrides = {
        "data.path": str(csv),
        "search.max_trials": 2,
        "search.time_budget_s": None,
        "eval.cv_folds": 3,
        "deploy.export": "onnx",
    }
    summary = automl.run("penguins", workspace=str(tmp_path), **overrides)
    report = summary["export"]
    assert report["exporter"] == "onnx" and report["exported"], report
    assert report["max_abs_diff"] <= 1e-4 and report["same_label_rate"] == 1.0
    from automl.registry.store import ModelStore

    predictor = automl.load("penguins", workspace=str(tmp_path), runtime="native")
    export = ModelStore(tmp_path).version_dir("penguins", predictor.version) / "export"
    rows = pd.read_csv(csv).drop(columns=["species"]).sample(50, random_state=0)
    native = predictor.model.predict_proba(rows)
    np.testing.assert_allclose(OnnxModel(export).predict_proba(rows), native, atol=1e-4)
