"""Predictions for the server: a cache of loaded versions and ``predict``, which labels by the
version's own decision rule (``Predictor.labels``, as ``Predictor.predict`` does)."""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automl.serve.inputs import IMAGE, TABULAR, TEXT, InputError, check_rows, check_texts, open_images, tabular_schema


@dataclass
class Output:
    labels: list[str]
    scores: list[dict[str, float]]
    content_ids: list[str]
    embeddings: list[list[float]] | None = None  # where the model sees a backbone's embedding
    runtime: str = "native"  # what answered: the exporter's name (onnx) or native

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": self.labels,
            "scores": self.scores,
            "content_ids": self.content_ids,
            "embeddings": self.embeddings,
            "runtime": self.runtime,
        }


class ModelCache:
    """Loaded versions by (name, version), least recently used dropped beyond ``size``."""

    def __init__(self, workspace: str | Path, size: int = 8, runtime: str = "auto", workers: int = 1) -> None:
        self.workspace = str(workspace)
        self.size = size
        self.runtime = runtime
        self.workers = workers
        self._cache: OrderedDict[tuple[str, int], Any] = OrderedDict()

    def get(self, name: str, version: int) -> Any:
        """The ``Predictor``; raises ``automl.errors.UserError`` for a version that is not there."""
        key = (name, version)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        from automl.model.predictor import load
        from automl.registry.store import ModelStore

        task = ModelStore(Path(self.workspace)).meta(name, version).task
        threads = serving_threads(task, self.workers)
        predictor = load(f"{name}:{version}", workspace=self.workspace, runtime=self.runtime, threads=threads)
        _limit_backbone_threads(predictor.model, threads)
        self._cache[key] = predictor
        while len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return predictor


def _limit_backbone_threads(model: Any, threads: int) -> None:
    """A native backbone's forward pass on ``threads`` threads too: left at every core, each worker's
    torch would fight the others for them (spam_filter, natively on two workers of 2 cores, fell to
    4 req/s at 8 clients)."""
    native = getattr(model, "native", model)
    for view in getattr(native, "views", {}).values():
        embedder = getattr(view, "embedder", None)
        if embedder is not None and hasattr(embedder, "num_threads"):
            embedder.num_threads = threads


def serving_threads(task: str, workers: int, cores: int | None = None) -> int:
    """The exported runtime's threads per call in a server with ``workers`` inference workers.

    A table's graph answers a row in well under a millisecond: one thread, since handing a call to
    a thread pool costs more than it saves (and the front process needs a core). A backbone's
    forward pass is tens of milliseconds of matrix work that splits across cores: the machine's
    cores shared among the workers."""
    if task == TABULAR:
        return 1
    return max(1, (cores or os.cpu_count() or 1) // max(1, workers))


def predict(predictor: Any, inputs: list[Any]) -> Output:
    """Labels, per-class scores and content ids of ``inputs``; ``InputError`` for a bad input.

    Images arrive as bytes (decoded from base64 by the caller)."""
    from automl.data.content_id import bytes_content_id, row_content_id

    model, task = predictor.model, predictor.task
    if task == TABULAR:
        schema = tabular_schema(model, predictor.meta.features or ())
        rows = check_rows(inputs, schema)
        ids = [row_content_id([row[c] for c in schema.columns]) for row in rows]
        proba, vectors = predictor.predict_proba_and_embedding(rows)
    elif task == TEXT:
        texts = check_texts(inputs)
        ids = [bytes_content_id(t.encode("utf-8")) for t in texts]
        proba, vectors = predictor.predict_proba_and_embedding(texts)
    elif task == IMAGE:
        if not all(isinstance(x, bytes) for x in inputs):
            raise InputError("an image model takes images (base64 strings or multipart files)")
        images = open_images(inputs)
        ids = [bytes_content_id(x) for x in inputs]
        proba, vectors = predictor.predict_proba_and_embedding(images)
    else:
        raise InputError(f"this server cannot serve a {task} model")
    proba = proba.to_numpy()
    classes = predictor.classes
    return Output(
        labels=list(predictor.labels(proba)),
        scores=[{c: float(v) for c, v in zip(classes, row, strict=True)} for row in proba],
        content_ids=ids,
        embeddings=None if vectors is None else vectors.tolist(),
        runtime=predictor.runtime,
    )
