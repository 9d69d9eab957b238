"""Bundles saved before the fitted model moved to ``automl.model.fitted`` still load: their
pickles name ``automl.model.FittedModel``."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from automl.errors import BundleFormatError
from automl.features.views import RawView
from automl.model.fitted import FittedMember, FittedModel
from automl.model.predictor import load
from automl.registry.promote import promote
from automl.registry.store import ModelStore


class Constant:
    def predict_proba(self, X: object) -> np.ndarray:
        return np.tile([0.2, 0.8], (len(X), 1))  # type: ignore[arg-type]


def _old_pickle(model: FittedModel) -> bytes:
    """The model as the previous layout pickled it (protocol 2 names classes as text lines)."""
    data = pickle.dumps(model, protocol=2)
    old = data.replace(b"cautoml.model.fitted\nFittedModel\n", b"cautoml.model\nFittedModel\n")
    old = old.replace(b"cautoml.model.fitted\nFittedMember\n", b"cautoml.model\nFittedMember\n")
    assert old != data and b"automl.model.fitted" not in old
    return old


def test_a_bundle_pickled_under_the_old_module_path_loads(workspace: Path) -> None:
    model = FittedModel("text_classification", ["a", "b"], {"raw": RawView()}, [FittedMember("raw", Constant(), 1.0)])
    store = ModelStore(workspace)
    version = store.register("m", model, {"task": "tabular_classification", "classes": ["a", "b"]})
    promote(store, "m", version)
    (store.version_dir("m", version) / "model.joblib").write_bytes(_old_pickle(model))
    loaded = load("m", workspace).model
    assert type(loaded) is FittedModel and type(loaded.members[0]) is FittedMember


def test_a_class_that_is_gone_is_a_one_line_format_error(workspace: Path) -> None:
    store = ModelStore(workspace)
    version = store.register("m", {"w": 1}, {"classes": ["a", "b"]})
    promote(store, "m", version)
    (store.version_dir("m", version) / "model.joblib").write_bytes(b"\x80\x02cautoml.model\nNoSuchModel\nq\x00.")
    with pytest.raises(BundleFormatError, match="install a matching version or re-run the recipe"):
        load("m", workspace)
