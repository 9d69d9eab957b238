"""Registration hooks, one per kind of component, in the register-callback style.

A plugin implements any of these with ``@automl.plugins.hookimpl`` and calls ``register(spec)``
once per component. The core checks every spec as it comes in (see ``automl.plugins.registry``).
Built-in components use exactly these hooks (``automl.builtin``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from automl.plugins.markers import hookspec

if TYPE_CHECKING:
    from automl.plugins.components import BackboneSpec, ComponentSpec, LoaderSpec, MetricSpec, TrainerSpec


@hookspec
def register_loaders(register: Callable[[LoaderSpec], None]) -> None:
    """Register data loaders: they turn a recipe's ``data`` section into an example table."""


@hookspec
def register_trainers(register: Callable[[TrainerSpec], None]) -> None:
    """Register trainers: each builds a scikit-learn style estimator from its typed config."""


@hookspec
def register_metrics(register: Callable[[MetricSpec], None]) -> None:
    """Register evaluation metrics, selectable as ``eval.metric``."""


@hookspec
def register_backbones(register: Callable[[BackboneSpec], None]) -> None:
    """Register pretrained backbones that embed images or texts."""


@hookspec
def register_augmenters(register: Callable[[ComponentSpec], None]) -> None:
    """Register data augmenters used by fine-tuning trainers."""


@hookspec
def register_samplers(register: Callable[[ComponentSpec], None]) -> None:
    """Register active samplers that pick logged invokes for human review."""


@hookspec
def register_serving_backends(register: Callable[[ComponentSpec], None]) -> None:
    """Register serving backends that put models behind an HTTP API."""


@hookspec
def register_exporters(register: Callable[[ComponentSpec], None]) -> None:
    """Register model exporters (for example ONNX)."""


@hookspec
def register_drift_detectors(register: Callable[[ComponentSpec], None]) -> None:
    """Register drift detectors that compare a reference window of inputs with a recent one."""


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
