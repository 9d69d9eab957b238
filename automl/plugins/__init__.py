"""The plugin system: hookspecs, typed component specs, the manager that loads plugins and the
registries it fills. Plugin authors import from :mod:`automl.plugins.api` and nothing else.

This room imports none of the runtime (an import-linter contract in ``pyproject.toml``), so every
other room can use it.
"""

from typing import Any as _Any

_FORMER = frozenset(
    {"BackboneSpec", "ComponentSpec", "Embedder", "LoadRequest", "LoadResult", "LoaderSpec", "MetricSpec",
     "TrainContext", "TrainerSpec", "WeightsUnavailable", "hookimpl", "hookspec"}
)  # fmt: skip
"""What ``automl.plugins`` itself exported before ``automl.plugins.api`` became the one surface."""


def __getattr__(name: str) -> _Any:
    """Plugins written against the earlier surface (``from automl.plugins import TrainerSpec``)
    keep working, with a warning that says where the name lives now."""
    if name not in _FORMER:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")  # submodules import as usual
    import importlib
    import warnings

    warnings.warn(
        f"import {name} from automl.plugins.api (automl.plugins.{name} will go away)", DeprecationWarning, stacklevel=2
    )
    if name == "hookspec":
        return importlib.import_module("automl.plugins.markers").hookspec
    return getattr(importlib.import_module("automl.plugins.api"), name)
