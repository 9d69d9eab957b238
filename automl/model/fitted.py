"""The fitted model a bundle carries: the views it needs, fitted members with weights, classes and
a decision threshold. It takes the task's inputs (a DataFrame of rows, a list of texts or image
paths), rebuilds each member's view, and averages the members' probabilities.

It knows nothing of Ray or the registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from automl.evaluate.cv import predict_proba
from automl.evaluate.scoring import decide
from automl.features.views import EmbeddingView


@dataclass
class FittedMember:
    view: str
    estimator: Any
    weight: float


@dataclass
class FittedModel:
    task: str
    classes: list[str]
    views: dict[str, Any]  # view key -> TabularView | EmbeddingView | RawView
    members: list[FittedMember]
    threshold: float | None = None

    def predict_proba(self, inputs: Any) -> np.ndarray:
        built = {key: self.views[key].transform(inputs) for key in {m.view for m in self.members}}
        return self.predict_proba_views(built)

    def logged_view(self) -> str | None:
        """The view whose embedding the server logs: the heaviest-weighted member's that sees a
        backbone's embedding; None when no member does."""
        keys = [m.view for m in sorted(self.members, key=lambda m: -m.weight)]
        return next((key for key in keys if isinstance(self.views[key], EmbeddingView)), None)

    @property
    def embedding_identity(self) -> str | None:
        """The identity (embedding cache key) of the backbone behind ``logged_view``."""
        key = self.logged_view()
        return None if key is None else getattr(self.views[key].embedder, "identity", None)

    def predict_proba_and_embedding(self, inputs: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """Probabilities and, where a member sees a backbone's embedding, that embedding (the
        ``logged_view``'s): the server logs it for drift monitoring and review."""
        keys = [m.view for m in sorted(self.members, key=lambda m: -m.weight)]
        built = {key: self.views[key].transform(inputs) for key in dict.fromkeys(keys)}
        logged = self.logged_view()
        vectors = np.asarray(built[logged], dtype=np.float32) if logged is not None else None
        return self.predict_proba_views(built), vectors

    def predict_proba_views(self, built: dict[str, Any]) -> np.ndarray:
        """For inputs already in each member's view (skips rebuilding views in hot loops)."""
        n = len(self.classes)
        return sum(m.weight * predict_proba(m.estimator, built[m.view], n) for m in self.members)  # type: ignore[return-value]

    def decide(self, proba: np.ndarray) -> np.ndarray:
        """Class indices for probabilities: the tuned threshold for a binary task, else argmax."""
        return decide(proba, self.threshold)

    def predict_index(self, inputs: Any) -> np.ndarray:
        return self.decide(self.predict_proba(inputs))
