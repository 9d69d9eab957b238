"""The training side of a comparison: the production version's training data, its run's
out-of-fold predictions, and the training examples' cached embeddings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from automl.data.table import ExampleTable
from automl.errors import UserError
from automl.loop.windows import Sample, training_sample
from automl.plugins.manager import Plugins
from automl.registry.meta import BundleMeta


@dataclass(frozen=True)
class Reference:
    """The training sample and what it lacks (each part missing says why)."""

    sample: Sample | None
    missing: list[str] = field(default_factory=list)


def training_table(meta: BundleMeta, plugins: Plugins) -> ExampleTable:
    """The version's training examples, read again through the recipe it was trained by (a
    ``UserError`` when they cannot be: the file moved, the loader is gone)."""
    from omegaconf import OmegaConf

    from automl.config.compose import to_recipe
    from automl.config.validate import check_recipe
    from automl.train.runner import load_table

    return load_table(check_recipe(to_recipe(OmegaConf.create(dict(meta.recipe))), plugins), plugins)


def _columns(meta: BundleMeta, plugins: Plugins, ids: pd.Index) -> tuple[pd.DataFrame | None, str | None]:
    """The training table's feature columns, in the run's example order (rows since removed are
    left out); None with the reason when the data cannot be read again."""
    try:
        table = training_table(meta, plugins)
    except UserError as err:
        return None, f"the training data cannot be read again ({err})"
    frame = table.features.set_axis(table.ids).reindex(ids)
    return frame[frame.notna().any(axis=1)].reset_index(drop=True), None


def training_reference(workspace: Path, meta: BundleMeta, plugins: Plugins) -> Reference:
    run_id = meta.lineage.get("run_id")
    if not run_id:
        return Reference(None, [f"{meta.name}:{meta.version} names no run to take training data from"])
    oof_file = workspace / "runs" / meta.name / str(run_id) / "oof.parquet"
    if not oof_file.is_file():
        return Reference(None, [f"no out-of-fold predictions of {meta.name}:{meta.version}'s run ({oof_file})"])
    oof = pd.read_parquet(oof_file)
    missing: list[str] = []
    columns = None
    if meta.task == "tabular_classification":
        columns, why = _columns(meta, plugins, pd.Index(oof["example_id"]))
        if why:
            missing.append(f"input columns: {why}")
    embeddings = None
    if meta.embedding_identity:
        from automl.features.embeddings import EmbeddingCache

        cached = EmbeddingCache(workspace, meta.embedding_identity).load()
        vectors = [cached[i] for i in oof["example_id"] if i in cached]
        if vectors:
            embeddings = np.asarray(vectors, dtype=np.float32)
        else:
            missing.append("embeddings: the training examples are not in the embedding cache")
    elif meta.task != "tabular_classification":
        missing.append(f"embeddings: {meta.name}:{meta.version} does not name the embedding it logs (trained before)")
    return Reference(training_sample(columns, oof, embeddings, list(meta.classes)), missing)
