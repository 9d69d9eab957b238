"""In-process predictions from a saved bundle: ``automl.load("income")``.

A version whose export passed its check answers in the exporter's runtime (ONNX Runtime), which
is several times faster for one row; ``runtime="native"`` keeps the native model (for debugging),
and ``Predictor.runtime`` says which one answers (``automl.model.exported``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from automl.errors import UserError
from automl.model.exported import NATIVE, RUNTIMES, ExportedModel, RuntimeChoice, exported_copy
from automl.paths import workspace_dir
from automl.registry.meta import BundleMeta
from automl.registry.refs import ModelRef
from automl.registry.store import ModelStore


class Predictor:
    """A registered model version, ready to predict over a DataFrame (or a list of row dicts)."""

    def __init__(self, model: Any, meta: BundleMeta, choice: RuntimeChoice | None = None) -> None:
        self.model = model
        self.meta = meta
        self.name = meta.name
        self.version = meta.version
        self.classes = list(meta.classes)
        self.choice = choice or RuntimeChoice(NATIVE, "native requested")

    @property
    def runtime(self) -> str:
        """What answers: the exporter's name (e.g. ``onnx``) or ``native``."""
        return self.choice.runtime

    def __repr__(self) -> str:
        return f"Predictor({self.name}:{self.version}, classes={self.classes}, runtime={self.runtime})"

    @property
    def task(self) -> str:
        return self.meta.task

    def _inputs(self, X: Any) -> Any:
        """What the model takes: a DataFrame of rows (tabular), or a list of texts / image paths."""
        import pandas as pd

        if self.task == "tabular_classification":
            if isinstance(X, pd.DataFrame):
                return X
            if isinstance(X, list) and all(isinstance(row, dict) for row in X):
                # An exported copy takes the rows as they are (a served request's): no DataFrame.
                return X if isinstance(self.model, ExportedModel) else pd.DataFrame(X)
            raise UserError(f"{self.name} is a tabular model: predict over a DataFrame or a list of row dicts.")
        text = self.task == "text_classification"
        what = "texts" if text else "image paths (or PIL images)"
        if isinstance(X, pd.Series):
            X = X.tolist()
        ok = (lambda v: isinstance(v, str)) if text else (lambda v: isinstance(v, str) or hasattr(v, "convert"))
        if isinstance(X, str) or not isinstance(X, list | tuple) or not all(ok(v) for v in X):
            raise UserError(f"{self.name} is a {self.task} model: predict over a list of {what}.")
        return list(X)

    def predict_proba(self, X: Any) -> Any:
        """A DataFrame with one probability column per class, named by the class."""
        import pandas as pd

        inputs = self._inputs(X)
        index = inputs.index if isinstance(inputs, pd.DataFrame) else None
        return pd.DataFrame(self.model.predict_proba(inputs), columns=self.classes, index=index)

    def predict_proba_and_embedding(self, X: Any) -> tuple[Any, np.ndarray | None]:
        """``predict_proba`` and the backbone embedding of each input, where the model has one."""
        import pandas as pd

        inputs = self._inputs(X)
        index = inputs.index if isinstance(inputs, pd.DataFrame) else None
        proba, vectors = self.model.predict_proba_and_embedding(inputs)
        return pd.DataFrame(proba, columns=self.classes, index=index), vectors

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels (with the tuned decision threshold, where there is one)."""
        return self.labels(self.predict_proba(X).to_numpy())

    def decide(self, proba: np.ndarray) -> np.ndarray:
        """Class indices for probabilities, by the model's own decision rule (its tuned
        threshold, where there is one): the one place a prediction's label is chosen."""
        return np.asarray(self.model.decide(proba))

    def labels(self, proba: np.ndarray) -> np.ndarray:
        return np.asarray(self.classes, dtype=object)[self.decide(proba)]


def load(
    ref: str = "", workspace: str | Path | None = None, runtime: str = "auto", threads: int | None = None
) -> Predictor:
    """Load ``NAME`` (production), ``NAME:VERSION`` or ``NAME@ALIAS`` from the workspace.

    ``runtime="auto"`` answers with the version's exported copy when its export passed its check
    (and the native model otherwise); ``"native"`` always with the native model. ``threads``: the
    exported runtime's threads per call (None: its default)."""
    if runtime not in RUNTIMES:
        raise UserError(f"runtime={runtime}: use auto (the exported copy where there is one) or native.")
    store = ModelStore(workspace_dir(workspace))
    name, version = store.resolve(ModelRef.parse(ref))
    meta, native = store.meta(name, version), store.load_model(name, version)
    if runtime == NATIVE:
        return Predictor(native, meta)
    copy, choice = exported_copy(meta, store.version_dir(name, version) / "export", threads)
    return Predictor(native if copy is None else ExportedModel(native, copy), meta, choice)
