"""The plugin system: hookspecs, typed component specs, and the registries built from them.

Import what plugin authors need from here: ``hookimpl`` and the ``*Spec`` classes.
"""

from automl.plugins.components import (
    BackboneSpec,
    ComponentSpec,
    Embedder,
    LoaderSpec,
    LoadRequest,
    LoadResult,
    MetricSpec,
    TrainContext,
    TrainerSpec,
    WeightsUnavailable,
)
from automl.plugins.markers import hookimpl, hookspec

__all__ = [
    "BackboneSpec",
    "ComponentSpec",
    "Embedder",
    "LoadRequest",
    "LoadResult",
    "LoaderSpec",
    "MetricSpec",
    "TrainContext",
    "TrainerSpec",
    "WeightsUnavailable",
    "hookimpl",
    "hookspec",
]
