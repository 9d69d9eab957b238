"""Built-in samplers: which logged invokes are worth a human look (see ``Sampler`` in
``automl.plugins.protocols``). ``automl sample`` shares a batch among the recipe's samplers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from automl.plugins.components import ComponentSpec, NoOptions
from automl.plugins.markers import hookimpl

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


class Flagged:
    """Invokes a caller flagged (the predict request's ``X-Flag`` header, or the flag route)."""

    def score(self, invokes: pd.DataFrame, mistakes: Any) -> np.ndarray:
        import numpy as np

        return np.where(invokes["flag"].notna(), 1.0, np.nan)

    def reason(self, row: Any) -> str:
        return f"flagged: {row['flag']}"


class LowConfidence:
    """Where the model hesitates: the smallest margin between its top two classes."""

    def score(self, invokes: pd.DataFrame, mistakes: Any) -> np.ndarray:
        return -invokes["margin"].to_numpy(dtype=float)

    def reason(self, row: Any) -> str:
        return f"low confidence (margin {row['margin']:.2f})"


class RareClass:
    """Predictions of a class that is rare among the candidates, least confident first."""

    def score(self, invokes: pd.DataFrame, mistakes: Any) -> np.ndarray:
        share = invokes["label"].map(invokes["label"].value_counts(normalize=True)).to_numpy(dtype=float)
        return -share - 1e-3 * invokes["confidence"].to_numpy(dtype=float)

    def reason(self, row: Any) -> str:
        return f"rare predicted class {row['label']}"


class NearMistakes:
    """Invokes close (cosine) to ones a reviewer corrected: the model may repeat the mistake."""

    def score(self, invokes: pd.DataFrame, mistakes: Any) -> np.ndarray:
        import numpy as np

        has = invokes["embedding"].map(lambda v: v is not None).to_numpy()
        if mistakes is None or not len(mistakes) or not has.any():
            return np.full(len(invokes), np.nan)
        scores = np.full(len(invokes), np.nan)
        x = np.vstack(invokes.loc[has, "embedding"].to_numpy()).astype(float)
        m = np.asarray(mistakes, dtype=float)
        x /= np.linalg.norm(x, axis=1, keepdims=True) + 1e-12
        m /= np.linalg.norm(m, axis=1, keepdims=True) + 1e-12
        scores[has] = (x @ m.T).max(axis=1)
        return scores

    def reason(self, row: Any) -> str:
        return "near a corrected mistake"


@dataclass(frozen=True)
class RandomOptions:
    seed: int = 0


class RandomControl:
    """A random share: an unbiased look at what the model gets right and wrong."""

    def __init__(self, options: RandomOptions) -> None:
        import numpy as np

        self.rng = np.random.default_rng(options.seed)

    def score(self, invokes: pd.DataFrame, mistakes: Any) -> np.ndarray:
        return self.rng.random(len(invokes))

    def reason(self, row: Any) -> str:
        return "random control"


SAMPLERS: list[tuple[str, str, type, Callable[..., Any]]] = [
    ("flagged", "Invokes a caller flagged for a look, all of them first.", NoOptions, lambda _: Flagged()),
    ("low_confidence", "Smallest margin between the top two classes.", NoOptions, lambda _: LowConfidence()),
    ("rare_class", "Predictions of classes rare in the recent invokes.", NoOptions, lambda _: RareClass()),
    ("near_mistakes", "Nearest neighbours (embeddings) of corrected invokes.", NoOptions, lambda _: NearMistakes()),
    ("random", "A random control share.", RandomOptions, RandomControl),
]


@hookimpl
def register_samplers(register: Callable[[ComponentSpec], None]) -> None:
    for name, description, options, factory in SAMPLERS:
        register(ComponentSpec(name=name, config_cls=options, description=description, factory=factory))
