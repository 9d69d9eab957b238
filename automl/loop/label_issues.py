"""``inspect``: likely label errors in a recipe's training data, from its last run's out-of-fold
probabilities (each example was predicted by a model that never saw it).

Ranked with cleanlab: every example gets a label-quality score (self-confidence: the
out-of-fold probability of its given label), lowest first, and ``find_label_issues`` (confident
learning) marks the ones it would call errors. The report also lists the most confused class pairs
among those and the least confident examples, and for images and texts, from the cached
embeddings of the run's model, near-duplicate pairs and outliers (cleanlab's Datalab).
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from automl.data.table import PROBA_PREFIX
from automl.errors import UserError
from automl.plugins.manager import Plugins
from automl.registry.meta import BundleMeta
from automl.store.reviews import QueueItem, ReviewStore


@dataclass(frozen=True)
class Suspect:
    content_id: str
    source: str  # the row number (0-based, header excluded) or the file path
    given: str
    suggested: str
    score: float  # label quality, 0 (surely wrong) to 1
    flagged: bool  # marked as an issue by confident learning
    confidence: float = 0.0  # the model's probability of the suggested label


@dataclass(frozen=True)
class LabelReport:
    recipe: str
    run_id: str
    examples: int
    flagged: int
    suspects: list[Suspect]
    confused: list[tuple[str, str, int]] = field(default_factory=list)  # given, suggested, count
    least_confident: list[Suspect] = field(default_factory=list)
    near_duplicates: list[tuple[str, str]] = field(default_factory=list)  # sources of the pairs
    outliers: list[str] = field(default_factory=list)  # sources, most unusual first
    notes: list[str] = field(default_factory=list)


def last_run(workspace: Path, recipe: str) -> Path:
    # a run counts once its summary is written (its out-of-fold file is written before it)
    runs = sorted(
        p for p in (workspace / "runs" / recipe).glob("*/oof.parquet") if (p.parent / "summary.json").is_file()
    )
    if not runs:
        raise UserError(f"recipe={recipe}: no finished run in {workspace}; run it first (automl run recipe={recipe}).")
    return runs[-1].parent


def inspect_labels(workspace: Path, recipe: str, top: int = 20) -> LabelReport:
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    run_dir = last_run(workspace, recipe)
    oof = pd.read_parquet(run_dir / "oof.parquet")
    classes = [c[len(PROBA_PREFIX) :] for c in oof.columns if c.startswith(PROBA_PREFIX)]
    proba = oof[[f"{PROBA_PREFIX}{c}" for c in classes]].to_numpy(dtype=float)
    proba = proba / proba.sum(axis=1, keepdims=True)
    index = {c: i for i, c in enumerate(classes)}
    given = oof["label"].astype(str).map(index).to_numpy()
    scores = get_label_quality_scores(given, proba, method="self_confidence")
    # One process: a pool forked from a threaded caller (the pages' server) can hang.
    issues = find_label_issues(given, proba, filter_by="prune_by_noise_rate", n_jobs=1)
    flagged = set(issues.nonzero()[0].tolist())
    suggested = proba.argmax(axis=1)

    def suspect(i: int) -> Suspect:
        return Suspect(str(oof["example_id"].iat[i]), str(oof["source"].iat[i]), classes[given[i]],
                       classes[suggested[i]], float(scores[i]), i in flagged, float(proba[i].max()))  # fmt: skip

    ranked = [suspect(int(i)) for i in np.argsort(scores, kind="stable")[:top]]
    pairs = Counter((classes[given[i]], classes[suggested[i]]) for i in flagged if given[i] != suggested[i])
    unsure = [suspect(int(i)) for i in np.argsort(proba.max(axis=1), kind="stable")[: min(top, 10)]]
    duplicates, outliers, notes = _by_embedding(workspace, recipe, run_dir.name, oof, top)
    return LabelReport(
        recipe, run_dir.name, len(oof), len(flagged), ranked,
        [(a, b, n) for (a, b), n in pairs.most_common(5)], unsure, duplicates, outliers, notes,
    )  # fmt: skip


def run_meta(workspace: Path, recipe: str, run_id: str) -> BundleMeta | None:
    """The metadata of the version the run registered (None when it is gone)."""
    from automl.registry.store import ModelStore

    store = ModelStore(workspace)
    for version in store.versions(recipe):
        meta = store.meta(recipe, version)
        if meta.lineage.get("run_id") == run_id:
            return meta
    return None


def _embedding_identity(workspace: Path, recipe: str, run_id: str) -> str | None:
    meta = run_meta(workspace, recipe, run_id)
    return meta.embedding_identity if meta else None


def send_to_review(workspace: Path, report: LabelReport, plugins: Plugins) -> list[QueueItem]:
    """Queue the report's suspects for a human look (those not queued or reviewed yet). Their
    inputs come from the training data, read again through the run's recipe; a reviewed label
    becomes an annotation, which relabels the example in the next run."""
    meta = run_meta(workspace, report.recipe, report.run_id)
    if meta is None:
        raise UserError(f"{report.recipe}: the version of run {report.run_id} is no longer registered.")
    from automl.loop.reference import training_table

    table = training_table(meta, plugins)
    inputs = dict(zip(table.ids.tolist(), table.features.to_dict("records"), strict=True))
    reviews = ReviewStore(workspace)
    seen = reviews.known_contents(report.recipe)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    items = []
    for s in report.suspects:
        if s.content_id in seen or s.content_id not in inputs:
            continue
        row = inputs[s.content_id]
        value = row if meta.task == "tabular_classification" else row.get("input")
        reason = f"label issue: given {s.given}, the model says {s.suggested} (score {s.score:.2f})"
        items.append(
            QueueItem(
                uuid.uuid4().hex[:12],
                report.recipe,
                meta.version,
                "",
                s.content_id,
                now,
                "label_issue",
                reason,
                s.suggested,
                s.confidence,
                json.dumps(value, default=str),
                None,
            )  # fmt: skip
        )
    reviews.add(items)
    return items


def _by_embedding(
    workspace: Path, recipe: str, run_id: str, oof: pd.DataFrame, top: int
) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """Near-duplicate pairs and outliers among the examples' cached embeddings (Datalab)."""
    identity = _embedding_identity(workspace, recipe, run_id)
    if identity is None:
        return [], [], ["no near-duplicates or outliers: the run's model uses no backbone embedding"]
    from automl.features.embeddings import EmbeddingCache

    cached = EmbeddingCache(workspace, identity).load()
    rows = [i for i, cid in enumerate(oof["example_id"]) if cid in cached]
    if len(rows) < 10:
        return [], [], ["the run's examples are not in the embedding cache"]
    from cleanlab import Datalab

    features = np.vstack([cached[oof["example_id"].iat[i]] for i in rows]).astype(np.float32)
    lab = Datalab(data={"label": oof["label"].iloc[rows].astype(str).tolist()}, label_name="label", verbosity=0)
    lab.find_issues(features=features, issue_types={"near_duplicate": {}, "outlier": {}})
    issues = lab.get_issues()
    sources = [str(oof["source"].iat[i]) for i in rows]
    pairs: list[tuple[str, str]] = []
    info = lab.get_info("near_duplicate").get("near_duplicate_sets", [])
    for i in np.flatnonzero(issues["is_near_duplicate_issue"].to_numpy()):
        pairs += [(sources[i], sources[int(j)]) for j in info[i] if int(j) > i]
    unusual = np.flatnonzero(issues["is_outlier_issue"].to_numpy())
    unusual = unusual[np.argsort(issues["outlier_score"].to_numpy()[unusual], kind="stable")]  # most unusual first
    return pairs[:top], [sources[int(i)] for i in unusual][:top], []
