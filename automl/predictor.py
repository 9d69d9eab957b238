"""In-process predictions from a saved bundle: ``automl.load("income")``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from automl.errors import UserError
from automl.paths import workspace_dir
from automl.registry.refs import ModelRef
from automl.registry.store import ModelStore


class Predictor:
    """A registered model version, ready to predict over a DataFrame (or a list of row dicts)."""

    def __init__(self, model: Any, meta: dict[str, Any]) -> None:
        self.model = model
        self.meta = meta
        self.name: str = meta["name"]
        self.version: int = int(meta["version"])
        self.classes: list[str] = list(meta["classes"])

    def __repr__(self) -> str:
        return f"Predictor({self.name}:{self.version}, classes={self.classes})"

    def _frame(self, X: Any) -> Any:
        import pandas as pd

        if isinstance(X, pd.DataFrame):
            return X
        if isinstance(X, list) and all(isinstance(row, dict) for row in X):
            return pd.DataFrame(X)
        raise UserError(f"{self.name} is a tabular model: predict over a DataFrame or a list of row dicts.")

    def predict_proba(self, X: Any) -> Any:
        """A DataFrame with one probability column per class, named by the class."""
        import pandas as pd

        frame = self._frame(X)
        return pd.DataFrame(self.model.predict_proba(frame), columns=self.classes, index=frame.index)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels (with the tuned decision threshold, where there is one)."""
        index = self.model.predict_index(self._frame(X))
        return np.asarray(self.classes, dtype=object)[index]


def load(ref: str = "", workspace: str | Path | None = None) -> Predictor:
    """Load ``NAME`` (production), ``NAME:VERSION`` or ``NAME@ALIAS`` from the workspace."""
    store = ModelStore(workspace_dir(workspace))
    name, version = store.resolve(ModelRef.parse(ref))
    return Predictor(store.load_model(name, version), store.meta(name, version))
