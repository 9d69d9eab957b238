"""A version's exported copy (``deploy.export``), answering in its exporter's runtime.

A run that exported its model keeps the copy in the version's ``export/`` folder, with the
exporter's report in the metadata (``exported`` is True only when the copy agreed with the native
model on the check rows). Loading such a version gives an ``ExportedModel``: the copy answers
``predict_proba``, and the native model still says what the inputs are (its views' schema) and
how probabilities become labels (its threshold). An image or text copy also gives the backbone
embedding the server logs (an export made before it did answers natively and says why).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from automl.registry.meta import TABULAR_TASK, BundleMeta

NATIVE = "native"
RUNTIMES = ("auto", NATIVE)  # auto: the exported copy where its export passed its check
log = logging.getLogger("automl.model")


@dataclass
class ExportedModel:
    native: Any  # the FittedModel: views (the input schema), classes, threshold, decision rule
    runtime: Any  # the exporter's loaded copy: predict_proba(inputs) -> (N, K)

    @property
    def views(self) -> dict[str, Any]:
        return dict(self.native.views)

    @property
    def classes(self) -> list[str]:
        return list(self.native.classes)

    @property
    def task(self) -> str:
        return str(self.native.task)

    def predict_proba(self, inputs: Any) -> np.ndarray:
        if isinstance(inputs, list) and inputs and isinstance(inputs[0], dict):
            inputs = self._canonical(inputs)
        return np.asarray(self.runtime.predict_proba(inputs), dtype=np.float64)

    def _canonical(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Row dicts whose categories given as numbers read as the native model reads them."""
        for view in self.native.views.values():
            schema = getattr(view, "schema", None)
            if schema is not None:
                rows = schema.canonical_rows(rows)
        return rows

    def predict_proba_and_embedding(self, inputs: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """Probabilities and the logged backbone embedding (None for tables), in one pass."""
        if not hasattr(self.runtime, "predict_proba_and_embedding"):
            return self.predict_proba(inputs), None
        proba, embedding = self.runtime.predict_proba_and_embedding(inputs)
        return np.asarray(proba, dtype=np.float64), None if embedding is None else np.asarray(embedding, np.float32)

    def decide(self, proba: np.ndarray) -> np.ndarray:
        return np.asarray(self.native.decide(proba))


@dataclass(frozen=True)
class RuntimeChoice:
    runtime: str  # the exporter's name (e.g. onnx), or native
    why: str  # why, in a few words (shown by `automl models` and kept with each answer)


def planned_runtime(meta: BundleMeta) -> RuntimeChoice:
    """What a version answers with, by its metadata alone (``automl models`` shows it)."""
    report = dict(meta.export or {})
    if not report:
        return RuntimeChoice(NATIVE, "not exported")
    if not report.get("exported"):
        return RuntimeChoice(NATIVE, f"export failed its check: {report.get('reason') or 'no reason given'}")
    if meta.task != TABULAR_TASK and not report.get("embedding"):
        return RuntimeChoice(
            NATIVE,
            "its export has no embedding output for the invoke log (an older automl-onnx made it): "
            "run the recipe again to re-export",
        )
    return RuntimeChoice(str(report.get("exporter") or "exported"), "its export passed its check")


def exported_copy(meta: BundleMeta, folder: Path, threads: int | None) -> tuple[Any, RuntimeChoice]:
    """The version's exported copy loaded in its runtime, or None and why the native model answers."""
    planned = planned_runtime(meta)
    if planned.runtime == NATIVE:
        return None, planned
    if not folder.is_dir():
        return None, RuntimeChoice(NATIVE, f"the export folder {folder} is missing")
    from automl.plugins.manager import get_plugins

    registry = get_plugins().registries["exporter"]
    if planned.runtime not in registry:
        return None, RuntimeChoice(NATIVE, f"the {planned.runtime} exporter is not installed")
    spec = registry.get(planned.runtime)
    assert spec.factory is not None
    exporter = spec.factory(spec.config_cls())
    if not hasattr(exporter, "load"):
        return None, RuntimeChoice(NATIVE, f"the {planned.runtime} exporter cannot load what it exported")
    try:
        return exporter.load(folder, threads=threads), planned
    except Exception as err:  # noqa: BLE001 - a copy the runtime rejects must not stop the native model
        why = f"the {planned.runtime} copy could not be loaded: {type(err).__name__}: {str(err).splitlines()[0]}"
        log.warning("%s:%s answers natively: %s", meta.name, meta.version, why)
        return None, RuntimeChoice(NATIVE, why)
