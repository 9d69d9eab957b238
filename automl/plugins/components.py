"""Typed specs for each kind of component a plugin can register.

A spec is plain data plus a callable: the core never imports a component by path, it looks the spec
up by its registered name. Every spec names a config dataclass, so a recipe's options for that
component are validated like the rest of the recipe.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from automl.plugins.weights import WeightsSource

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


@dataclass(frozen=True)
class NoOptions:
    """Config of a component that takes no options."""


@dataclass(frozen=True)
class ComponentSpec:
    """A named component with a typed config.

    ``factory`` builds the component from an instance of ``config_cls``; kinds with a richer
    contract (trainers, loaders, metrics) subclass this.
    """

    name: str
    config_cls: type = NoOptions
    description: str = ""
    factory: Callable[..., Any] | None = None

    def default_config(self) -> Any:
        return self.config_cls()

    def option_names(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self.config_cls)]


# --- trainers -------------------------------------------------------------------------------


class Estimator(Protocol):
    """What a trainer builds: scikit-learn's classifier contract over class indices 0..K-1."""

    def fit(self, X: Any, y: np.ndarray) -> Any: ...

    def predict_proba(self, X: Any) -> np.ndarray: ...


@dataclass(frozen=True)
class TrainContext:
    """What a trainer knows about the data when it builds an estimator."""

    task: str
    n_classes: int
    seed: int
    numeric_columns: tuple[str, ...] = ()
    categorical_columns: tuple[str, ...] = ()
    n_jobs: int = 1
    backbone: Any = None
    augmenters: tuple[Callable[[Any], Any], ...] = ()


FEATURES = "features"
RAW = "raw"
BACKBONE = "backbone"
INPUT_KINDS = (FEATURES, RAW, BACKBONE)


@dataclass(frozen=True)
class TrainerSpec(ComponentSpec):
    """A trainer: ``build(config, context)`` returns an unfitted, picklable estimator.

    ``default_space`` maps hyperparameter names (fields of ``config_cls``) to a search spec in the
    recipe grammar: a fixed value or ``{uniform|loguniform|int: [lo, hi]}`` / ``{choice: [...]}``.

    ``inputs`` says what ``fit`` and ``predict_proba`` receive: ``"features"``, a DataFrame of
    numbers and categories (a table's columns, or a backbone's embedding as columns ``e0..eN``,
    so the search pairs the trainer with every backbone); ``"raw"``, a 1-d object array of the
    examples themselves (texts, or image file paths), for trainers that need no backbone; or
    ``"backbone"``, the raw examples with the loaded backbone in ``TrainContext.backbone``, for
    trainers that update the backbone itself (fine-tuning). Those are paired with every backbone
    that ``accepts_backbone`` takes, and get the recipe's augmenters in ``TrainContext.augmenters``.

    ``cost(config, n_examples, forward_per_second)`` estimates the seconds of one ``fit`` on
    ``n_examples`` given the backbone's measured inference rate; with a time budget the search
    leaves out configurations that would not fit in it, and says so.

    ``stage`` orders a default search (one whose recipe lists no trainers): stage 0 first (cheap,
    strong models: heads on cached embeddings, linear and tree models), then 1 (fine-tuning a
    backbone), then 2 (networks trained from scratch).
    """

    build: Callable[[Any, TrainContext], Estimator] | None = None
    tasks: tuple[str, ...] = ("tabular_classification",)
    default_space: Mapping[str, Any] = field(default_factory=dict)
    inputs: str = FEATURES
    accepts_backbone: Callable[[Embedder], bool] | None = None
    cost: Callable[[Any, int, float], float] | None = None
    stage: int = 0


# --- backbones ------------------------------------------------------------------------------


class Embedder(Protocol):
    """A loaded backbone: turns a batch of inputs into one vector each.

    ``identity`` names the backbone, its weights and its preprocessing: the embedding cache is
    keyed by it, so two embedders with one identity must give the same vectors.
    """

    identity: str

    def embed(self, inputs: Sequence[Any]) -> np.ndarray: ...


class WeightsUnavailable(Exception):
    """A backbone's weights could not be found; the message says where it looked and how to
    provide them. The run skips that backbone, or fails when the recipe requires weights."""


@dataclass(frozen=True)
class BackboneSpec(ComponentSpec):
    """A backbone: ``load(config)`` returns an :class:`Embedder` or raises
    :class:`WeightsUnavailable`. ``modality`` is ``image`` or ``text``.

    ``weights`` lists where its pretrained weights may come from, in the order ``load`` tries them
    (``automl plugins`` shows which is here now); empty for a backbone that needs none or whose
    weights only a recipe option can name. ``gflops`` (one forward pass of one example) orders the
    backbones of a default search, cheapest first. ``default_search: False`` keeps a backbone out
    of the defaults (for example one that needs a path in its options). ``variant``, on a family
    of models registered under one name (``timm``), gives the spec of ``FAMILY:MEMBER`` (any model
    of that library by its own name), checked when a recipe names it.
    """

    load: Callable[[Any], Embedder] | None = None
    modality: str = "image"
    weights: tuple[WeightsSource, ...] = ()
    gflops: float | None = None
    default_search: bool = True
    variant: Callable[[str], BackboneSpec] | None = None

    def weights_here(self) -> bool:
        """Whether a declared weights source is on this machine now (True when none is declared)."""
        return not self.weights or any(s.locate() is not None for s in self.weights)


# --- loaders --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadRequest:
    """The data section of a recipe, resolved: what a loader is asked to read."""

    task: str
    path: Path | None
    target: str | None
    options: Any
    text_column: str | None = None
    image_column: str | None = None


@dataclass
class LoadResult:
    """A loader's raw table.

    ``sources`` says where each row came from (a row number or a file path), ``bad_rows`` lists
    rows the loader could not read as ``(source, reason)``; the core decides whether that fails
    the run. Image and text loaders give a frame with the columns ``input`` (a file path or a
    text) and ``label``, and ``content_ids`` (a hash of each image file's bytes or text's UTF-8).
    """

    frame: pd.DataFrame
    sources: Sequence[Any]
    bad_rows: list[tuple[str, str]] = field(default_factory=list)
    content_ids: Sequence[str] | None = None


@dataclass(frozen=True)
class LoaderSpec(ComponentSpec):
    """A loader: ``load(request)`` returns a :class:`LoadResult`."""

    load: Callable[[LoadRequest], LoadResult] | None = None
    tasks: tuple[str, ...] = ("tabular_classification",)
    needs_path: bool = True


# --- metrics --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricSpec(ComponentSpec):
    """A metric over true class indices and predicted probabilities ``score(y, proba)``.

    A metric of hard labels also gives ``score_labels(y, y_pred)``: its ``score`` is then the
    argmax labels' score, and for binary tasks the decision threshold can be tuned for it.
    """

    score: Callable[[np.ndarray, np.ndarray], float] | None = None
    score_labels: Callable[[np.ndarray, np.ndarray], float] | None = None
    greater_is_better: bool = True

    @property
    def uses_labels(self) -> bool:
        return self.score_labels is not None

    def better(self, a: float, b: float) -> bool:
        """True when score ``a`` is strictly better than ``b``."""
        return a > b if self.greater_is_better else a < b
