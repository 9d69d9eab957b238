"""Everything a plugin author imports, and the only core module first-party plugins import.

- The hook marker (``hookimpl``) and the spec each registration hook takes.
- The protocols the core calls on what a spec's factory builds (trainers' estimators, embedders,
  exporters, serving backends, samplers, drift detectors) and the ``TrainContext`` trainers get.
- Weights sources for backbones, and helpers for torch, the Hugging Face hub and images.
- The fitted model's parts that exporters read (``FittedModel``, its views, ``decide``,
  ``score``) and the tabular preprocessing trainers may reuse (``make_preprocessor``). These live
  in the runtime and are imported only when first used, so registering plugins stays light.

``__all__`` is pinned by a test: adding a name is a decision, removing one breaks plugins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automl.plugins.components import (
    BACKBONE,
    FEATURES,
    RAW,
    BackboneSpec,
    ComponentSpec,
    Embedder,
    Estimator,
    LoaderSpec,
    LoadRequest,
    LoadResult,
    MetricSpec,
    NoOptions,
    TrainContext,
    TrainerSpec,
    WeightsUnavailable,
)
from automl.plugins.hf_hub import default_cache_dir, hub_host, hub_reachable, offline_mode, offline_requested
from automl.plugins.markers import hookimpl
from automl.plugins.protocols import DriftDetector, Exporter, Sampler
from automl.plugins.serving import Job, Pipeline, RequestError, ServeSettings, ServingApp, ServingBackend, Worker
from automl.plugins.torch_compat import ensure_torchvision_importable
from automl.plugins.weights import HubWeights, InstalledWeights, WeightsMismatch, WeightsSource, remap_state_dict

if TYPE_CHECKING:
    from automl.data.images import as_rgb
    from automl.evaluate.scoring import decide, score
    from automl.features.tabular import make_preprocessor
    from automl.features.views import EmbeddingView, RawView, TabularView
    from automl.model.fitted import FittedMember, FittedModel

__all__ = [
    "BACKBONE",
    "BackboneSpec",
    "ComponentSpec",
    "DriftDetector",
    "Embedder",
    "EmbeddingView",
    "Estimator",
    "Exporter",
    "FEATURES",
    "FittedMember",
    "FittedModel",
    "HubWeights",
    "InstalledWeights",
    "Job",
    "LoadRequest",
    "LoadResult",
    "LoaderSpec",
    "MetricSpec",
    "NoOptions",
    "Pipeline",
    "RAW",
    "RawView",
    "RequestError",
    "Sampler",
    "ServeSettings",
    "ServingApp",
    "ServingBackend",
    "TabularView",
    "TrainContext",
    "TrainerSpec",
    "WeightsMismatch",
    "WeightsSource",
    "WeightsUnavailable",
    "Worker",
    "as_rgb",
    "decide",
    "default_cache_dir",
    "ensure_torchvision_importable",
    "hookimpl",
    "hub_host",
    "hub_reachable",
    "make_preprocessor",
    "offline_mode",
    "offline_requested",
    "remap_state_dict",
    "score",
]


def __getattr__(name: str) -> Any:
    """The runtime's parts, imported on first use (they pull numpy, pandas and scikit-learn)."""
    if name == "as_rgb":
        from automl.data.images import as_rgb

        return as_rgb
    if name in ("decide", "score"):
        from automl.evaluate import scoring

        return getattr(scoring, name)
    if name == "make_preprocessor":
        from automl.features.tabular import make_preprocessor

        return make_preprocessor
    if name in ("EmbeddingView", "RawView", "TabularView"):
        from automl.features import views

        return getattr(views, name)
    if name in ("FittedModel", "FittedMember"):
        from automl.model import fitted

        return getattr(fitted, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
