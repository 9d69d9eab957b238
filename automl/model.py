"""The fitted model a bundle carries: schema, fitted members with weights, classes, threshold.

It is what ``automl.load`` returns the predictions of; it knows nothing of Ray or the registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from automl.evaluate.cv import predict_proba
from automl.evaluate.scoring import decide
from automl.features.tabular import FeatureSchema


@dataclass
class TabularModel:
    schema: FeatureSchema
    classes: list[str]
    members: list[Any]
    weights: list[float]
    threshold: float | None = None

    def predict_proba(self, frame: Any) -> np.ndarray:
        return self.predict_proba_coerced(self.schema.coerce(frame))

    def predict_proba_coerced(self, X: Any) -> np.ndarray:
        """For a frame already in the schema's form (skips coercion in hot loops)."""
        n = len(self.classes)
        return sum(w * predict_proba(m, X, n) for m, w in zip(self.members, self.weights, strict=True))  # type: ignore[return-value]

    def predict_index(self, frame: Any) -> np.ndarray:
        return decide(self.predict_proba(frame), self.threshold)
