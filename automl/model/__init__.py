"""The fitted artefact: ``FittedModel`` (fitted), the ``Predictor`` that loads a registered
version (predictor), and batch prediction over files (batch)."""

from __future__ import annotations

from typing import Any

_MOVED = {"FittedModel", "FittedMember"}
"""Names bundles saved before the move to ``automl.model.fitted`` pickled as ``automl.model.NAME``."""


def __getattr__(name: str) -> Any:
    """Resolve the classes older bundles name by their old path, so those bundles still load."""
    if name in _MOVED:
        from automl.model import fitted

        return getattr(fitted, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
