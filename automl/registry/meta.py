"""``BundleMeta``: what a model bundle says about itself (``bundle.json``), as one typed record.

Written by the run (``automl.train.registration``) and read here only: every reader (predictor,
server, listing, gc, promotion) gets attributes, not dict lookups, so renaming a field is a
type error rather than a silently missing value. The JSON keys stay what they were (format 2).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from automl.errors import BundleFormatError

BUNDLE_FORMAT = 2  # 2: FittedModel with views (image and text tasks)
TABULAR_TASK = "tabular_classification"
IMAGE_TASK = "image_classification"
TEXT_TASK = "text_classification"
NETWORK_TASKS = (IMAGE_TASK, TEXT_TASK)


_NULLABLE = {
    "metric", "score", "score_std", "threshold", "features", "input_column", "created", "export", "embedding_identity"
}  # fmt: skip


@dataclass(frozen=True)
class BestConfig:
    """The winning configuration: trainer, backbone (none for tables) and hyperparameters."""

    trainer: str | None = None
    backbone: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BundleMeta:
    """One registered version's metadata. ``name`` and ``version`` are set by the registry."""

    classes: list[str] = field(default_factory=list)
    task: str = TABULAR_TASK
    name: str = ""
    version: int = 0
    metric: str | None = None
    score: float | None = None
    score_std: float | None = None
    threshold: float | None = None
    features: list[str] | None = None  # a tabular model's input columns, in order
    input_column: str | None = None  # the text or image column of batch-prediction files
    best: BestConfig = field(default_factory=BestConfig)
    lineage: Mapping[str, Any] = field(default_factory=dict)  # recipe, data hash, packages, seeds
    created: str | None = None
    export: Mapping[str, Any] | None = None  # the exporter's report, where the recipe asked for one
    embedding_identity: str | None = None  # the embedding cache key of the embedding the server logs
    format: int = BUNDLE_FORMAT

    @property
    def is_network(self) -> bool:
        """Image and text models carry networks (timm, transformers) in their pickles."""
        return self.task in NETWORK_TASKS

    @property
    def recipe(self) -> Mapping[str, Any]:
        """The resolved recipe the version was trained by (empty for a bundle without lineage)."""
        return self.lineage.get("recipe") or {}

    def saved_by(self) -> str:
        return str(self.lineage.get("packages", {}).get("automl", "an unknown version"))

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["best"] = dataclasses.asdict(self.best)
        return {"format": data.pop("format"), **data}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str = "bundle.json") -> BundleMeta:
        """Read a bundle's metadata; another format is a clear error. Missing or null keys take
        their defaults (a bundle that names no classes lists, but cannot predict)."""
        fmt = data.get("format")
        if fmt != BUNDLE_FORMAT:
            saved_by = (data.get("lineage") or {}).get("packages", {}).get("automl", "an unknown version")
            raise BundleFormatError(
                f"{where} has bundle format {fmt!r} (saved by automl {saved_by}); this automl reads "
                f"format {BUNDLE_FORMAT}. Install a matching automl or re-run the recipe."
            )
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known and (v is not None or k in _NULLABLE)}
        values["lineage"] = dict(data.get("lineage") or {})
        if "recipe" in data and "recipe" not in values.get("lineage", {}):  # saved before lineage
            values["lineage"] = {**values.get("lineage", {}), "recipe": data["recipe"]}
        best = data.get("best") or {}
        values["best"] = BestConfig(best.get("trainer"), best.get("backbone"), best.get("params") or {})
        values["classes"] = list(values.get("classes") or [])
        if values.get("version") is not None:
            values["version"] = int(values["version"])
        if values.get("score") is not None:
            values["score"] = float(values["score"])
        return cls(**values)
