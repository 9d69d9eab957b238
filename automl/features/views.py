"""Views: what a trainer sees of the examples, and how a saved model rebuilds it from new inputs.

A tabular model sees the recipe's columns (coerced by the feature schema); an image or text model
sees either a backbone's embedding (columns ``e0..eN``) or the raw inputs (texts or image paths)
as a 1-d object array. Each view is named by a key: ``features``, ``raw``, ``backbone:NAME``, or
``tune:NAME`` (the raw inputs, for trainers that fine-tune backbone NAME; its context holds the
backbone).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from automl.features.tabular import FeatureSchema
from automl.plugins.components import BACKBONE, RAW, Embedder

FEATURES_VIEW = "features"
RAW_VIEW = "raw"


def view_key(trainer_inputs: str, backbone: str | None) -> str:
    if trainer_inputs == RAW:
        return RAW_VIEW
    if trainer_inputs == BACKBONE:
        return f"tune:{backbone}"
    return f"backbone:{backbone}" if backbone else FEATURES_VIEW


def embedding_frame(vectors: np.ndarray) -> Any:
    import pandas as pd

    return pd.DataFrame(vectors, columns=[f"e{i}" for i in range(vectors.shape[1])])


@dataclass
class TabularView:
    schema: FeatureSchema

    def transform(self, inputs: Any) -> Any:
        return self.schema.coerce(inputs)


@dataclass
class EmbeddingView:
    embedder: Embedder

    def transform(self, inputs: Any) -> Any:
        return embedding_frame(np.asarray(self.embedder.embed(list(inputs)), dtype=np.float32))


def object_column(items: Any) -> np.ndarray:
    """A 1-d object array of ``items``; ``np.asarray`` would unpack PIL images into pixel arrays."""
    items = list(items)
    column = np.empty(len(items), dtype=object)
    column[:] = items
    return column


@dataclass
class RawView:
    def transform(self, inputs: Any) -> Any:
        return object_column(inputs)
