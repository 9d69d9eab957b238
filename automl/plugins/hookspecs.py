"""The hooks a plugin implements, in the register-callback style, by when the core calls them.

A plugin implements any of these with ``@hookimpl`` (from :mod:`automl.plugins.api`) and calls
``register(spec)`` once per component. The core checks every spec as it comes in (see
``automl.plugins.registry``). Built-in components use exactly these hooks (``automl.builtin``).

Every hook here is called once per process, when the registries are first built
(``automl.plugins.manager.get_plugins``), one plugin at a time. There are no hooks called during a
run, a request or the loop: components are looked up by their registered name and their
factories called with typed configs, so what a component does at run time is the protocol its
factory's result follows (see :mod:`automl.plugins.protocols` and :mod:`automl.plugins.serving`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from automl.plugins.markers import hookspec

if TYPE_CHECKING:
    from automl.plugins.components import BackboneSpec, ComponentSpec, LoaderSpec, MetricSpec, TrainerSpec

# --- data: examples in ------------------------------------------------------------------------


@hookspec
def register_loaders(register: Callable[[LoaderSpec], None]) -> None:
    """Register data loaders, selectable as ``data.loader``: ``load(request) -> LoadResult`` turns
    a recipe's ``data`` section into examples (content ids, inputs, labels, skipped rows)."""


# --- training: features, models, metrics ------------------------------------------------------


@hookspec
def register_backbones(register: Callable[[BackboneSpec], None]) -> None:
    """Register pretrained backbones, selectable in ``search.backbones``: ``load(config)`` returns
    an ``Embedder`` (``embed(inputs) -> array``); the spec declares its weights sources, so a run
    knows offline which backbones can load."""


@hookspec
def register_trainers(register: Callable[[TrainerSpec], None]) -> None:
    """Register trainers, selectable in ``search.trainers``: ``build(config, TrainContext)``
    returns an unfitted, picklable ``Estimator`` (scikit-learn's classifier contract)."""


@hookspec
def register_augmenters(register: Callable[[ComponentSpec], None]) -> None:
    """Register data augmenters that fine-tuning trainers apply to training inputs; the factory
    returns a callable ``input -> input``."""


@hookspec
def register_metrics(register: Callable[[MetricSpec], None]) -> None:
    """Register evaluation metrics, selectable as ``eval.metric`` (``score(y, proba) -> float``
    and whether greater is better)."""


# --- deployment: export and serving -----------------------------------------------------------


@hookspec
def register_exporters(register: Callable[[ComponentSpec], None]) -> None:
    """Register model exporters, selectable as ``deploy.export``; the factory returns an
    ``Exporter`` (``export(model, inputs, folder) -> report``)."""


@hookspec
def register_serving_backends(register: Callable[[ComponentSpec], None]) -> None:
    """Register serving backends, selectable as ``automl serve backend=NAME``; the factory is a
    ``ServingBackend``: given the core's ``ServingApp``, it runs an HTTP server until stopped."""


# --- the loop: monitoring and review ----------------------------------------------------------


@hookspec
def register_samplers(register: Callable[[ComponentSpec], None]) -> None:
    """Register active samplers that pick logged invokes for human review; the factory returns a
    ``Sampler`` (``select(invokes, n) -> invoke ids``)."""


@hookspec
def register_drift_detectors(register: Callable[[ComponentSpec], None]) -> None:
    """Register drift detectors that compare a reference window of inputs with a recent one; the
    factory returns a ``DriftDetector`` (``compare(reference, current) -> result``)."""


KIND_HOOKS: dict[str, str] = {
    "loader": "register_loaders",
    "backbone": "register_backbones",
    "trainer": "register_trainers",
    "augmenter": "register_augmenters",
    "sampler": "register_samplers",
    "serving_backend": "register_serving_backends",
    "exporter": "register_exporters",
    "metric": "register_metrics",
    "drift_detector": "register_drift_detectors",
}
"""Each kind of component, as ``automl plugins`` spells it, and the hook that registers it."""
