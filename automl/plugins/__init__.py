"""The plugin system: hookspecs, typed component specs, and the registries built from them.

Import what plugin authors need from here: ``hookimpl`` and the ``*Spec`` classes.
"""

from automl.plugins.components import (
    ComponentSpec,
    LoaderSpec,
    LoadRequest,
    LoadResult,
    MetricSpec,
    TrainContext,
    TrainerSpec,
)
from automl.plugins.markers import hookimpl, hookspec

__all__ = [
    "ComponentSpec",
    "LoadRequest",
    "LoadResult",
    "LoaderSpec",
    "MetricSpec",
    "TrainContext",
    "TrainerSpec",
    "hookimpl",
    "hookspec",
]
