"""automl: declarative, end-to-end AutoML. One YAML recipe from labelled data to a tested,
versioned model.

The public API is small and imports nothing heavy until it is used::

    import automl
    summary = automl.run("income", **{"search.time_budget_s": 30})
    model = automl.load("income")          # or "income:3", "income@candidate"
    model.predict(frame)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from automl.model.predictor import Predictor

__all__ = ["load", "run"]
__version__ = "0.1.0"


def _override(key: str, value: Any) -> str:
    """A Hydra override for a Python value (JSON is valid Hydra override grammar)."""
    import json

    return f"{key}={json.dumps(value)}"


def run(recipe: str, **overrides: Any) -> dict[str, Any]:
    """Run a ready recipe (by name) or a recipe file; keyword overrides use dotted keys, e.g.
    ``automl.run("income", **{"eval.cv_folds": 3}, seed=7)``. Returns the run's summary."""
    from automl.config.compose import load_recipe
    from automl.train.runner import run_recipe

    return run_recipe(load_recipe(recipe, [_override(k, v) for k, v in overrides.items()])).to_json()


def load(ref: str, workspace: str | None = None, runtime: str = "auto") -> Predictor:
    """A predictor for a registered model: ``NAME``, ``NAME:VERSION`` or ``NAME@ALIAS``. It answers
    with the version's exported copy (ONNX Runtime) when its export passed its check, unless
    ``runtime="native"``; ``Predictor.runtime`` says which."""
    from automl.model.predictor import load as _load

    return _load(ref, workspace, runtime)
