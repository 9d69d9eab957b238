"""``sample``: pick a model's recent invokes worth a human look and put them in the review queue.

Invokes a caller flagged come first (all of them the budget allows). The rest of the batch is
shared among the recipe's other samplers (``monitor.samplers``, registered by name) and a random
control share (``monitor.random_share``); a share a sampler cannot fill (no corrected mistakes
yet, say) goes to the first. It is diverse (an invoke whose embedding is within
``monitor.min_distance`` of one already picked, or whose content was picked, is passed over),
never queues an invoke or a content twice, and keeps to ``monitor.per_day``. Every item records
which sampler picked it and why.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from automl.loop.monitor import monitor_config
from automl.plugins.manager import Plugins
from automl.registry.refs import ModelRef
from automl.registry.store import ModelStore
from automl.store.invokes import query_invokes
from automl.store.reviews import QueueItem, ReviewStore

RANDOM = "random"
FLAGGED = "flagged"
NEAR = "near an item already queued"


@dataclass(frozen=True)
class SampleResult:
    model: str
    version: int
    picked: list[QueueItem]
    candidates: int
    budget_left: int
    notes: list[str] = field(default_factory=list)


def _candidates(workspace: Path, model: str, limit: int, reviews: ReviewStore) -> pd.DataFrame:
    """The model's most recent invokes not yet queued (one per content, the latest), with their
    confidence and margin."""
    rows = query_invokes(
        workspace,
        "SELECT invoke_id, version, content_id, input_json, input_blob, embedding, label, scores, ts "
        "FROM invokes WHERE model = ? AND route <> 'shadow' ORDER BY seq DESC LIMIT ?",
        [model, limit],
    )
    rows = rows[~rows["content_id"].isin(reviews.known_contents(model))]  # a queued invoke's content is known
    rows = rows.drop_duplicates("content_id").reset_index(drop=True)
    ranked = [sorted(json.loads(s).values(), reverse=True) if isinstance(s, str) else [np.nan] for s in rows["scores"]]
    rows["confidence"] = [r[0] for r in ranked]
    rows["margin"] = [r[0] - (r[1] if len(r) > 1 else 0.0) for r in ranked]
    rows["embedding"] = [None if v is None else np.asarray(v, dtype=float) for v in rows["embedding"]]
    flags = reviews.flags(model)
    rows["flag"] = [flags.get(i) for i in rows["invoke_id"]]
    return rows


def _text(value: Any) -> str | None:
    """A text column's value; None for a missing one (pandas reads it as NaN)."""
    return value if isinstance(value, str) else None


def _mistakes(workspace: Path, model: str, reviews: ReviewStore) -> np.ndarray | None:
    """Embeddings of reviewed invokes whose label the reviewer changed."""
    wrong = [item.invoke_id for item, label in reviews.reviewed(model) if label != item.predicted and item.invoke_id]
    if not wrong:
        return None
    rows = query_invokes(
        workspace, f"SELECT embedding FROM invokes WHERE invoke_id IN ({', '.join('?' * len(wrong))})", wrong
    )
    vectors = [np.asarray(v, dtype=float) for v in rows["embedding"] if v is not None]
    return np.vstack(vectors) if vectors else None


def _quotas(k: int, samplers: list[str], random_share: float) -> list[tuple[str, int]]:
    n_random = int(round(k * random_share))
    rest = k - n_random
    share, extra = divmod(rest, len(samplers)) if samplers else (0, 0)
    quotas = [(name, share + (1 if i < extra else 0)) for i, name in enumerate(samplers)]
    return [*quotas, (RANDOM, n_random + (rest if not samplers else 0))]


class Picker:
    """Greedy, diverse picking: by each sampler's scores, skipping near-duplicates."""

    def __init__(self, candidates: pd.DataFrame, min_distance: float) -> None:
        self.candidates = candidates
        self.min_distance = min_distance
        self.taken: list[int] = []
        self.why: dict[int, tuple[str, str]] = {}
        self.vectors: list[np.ndarray] = []

    def _close(self, vector: np.ndarray | None) -> bool:
        if vector is None or not self.vectors or self.min_distance <= 0:
            return False
        unit = vector / (np.linalg.norm(vector) + 1e-12)
        return bool(np.max(np.vstack(self.vectors) @ unit) > 1 - self.min_distance)

    def take(self, name: str, sampler: Any, scores: np.ndarray, quota: int, diverse: bool = True) -> int:
        order = [i for i in np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable") if not np.isnan(scores[i])]
        got = 0
        for i in order:
            if got >= quota:
                break
            if i in self.why or (diverse and self._close(self.candidates.at[i, "embedding"])):
                continue
            vector = self.candidates.at[i, "embedding"]
            if vector is not None:
                self.vectors.append(vector / (np.linalg.norm(vector) + 1e-12))
            self.why[i] = (name, sampler.reason(self.candidates.loc[i]))
            self.taken.append(i)
            got += 1
        return got


def diverse_order(
    candidates: pd.DataFrame, name: str, sampler: Any, scores: np.ndarray, min_distance: float
) -> list[tuple[int, str]]:
    """Every candidate with a score, greedily by ``scores`` (highest first) as :class:`Picker`
    takes them, diverse first: one within ``min_distance`` of one already placed goes after all
    the diverse ones (still by score, its reason saying so). ``(row index, reason)`` pairs."""
    picker = Picker(candidates, min_distance)
    diverse = picker.take(name, sampler, scores, len(candidates))
    picker.take(name, sampler, scores, len(candidates), diverse=False)
    return [(i, picker.why[i][1] + ("" if k < diverse else f"; {NEAR}")) for k, i in enumerate(picker.taken)]


def sample(
    workspace: Path, ref: str, plugins: Plugins, n: int | None = None, now: datetime | None = None
) -> SampleResult:
    store = ModelStore(workspace)
    name, version = store.resolve(ModelRef.parse(ref))
    config = monitor_config(store.meta(name, version), {})
    reviews = ReviewStore(workspace)
    now = now or datetime.now(timezone.utc).replace(tzinfo=None)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    left = max(0, config.per_day - reviews.queued_since(name, day))
    k = min(left, config.per_day if n is None else n)
    candidates = _candidates(workspace, name, config.sample_from, reviews)
    result = SampleResult(name, version, [], len(candidates), left)
    if k == 0:
        return SampleResult(
            name, version, [], len(candidates), left, [f"the day's budget is spent (monitor.per_day={config.per_day})"]
        )
    if candidates.empty:
        return SampleResult(name, version, [], 0, left, [f"no invokes of {name} left to sample"])
    registry = plugins.registries["sampler"]
    built = {s: registry.get(s).factory(registry.get(s).config_cls()) for s in [*config.samplers, RANDOM]}
    mistakes = _mistakes(workspace, name, reviews) if "near_mistakes" in config.samplers else None
    picker = Picker(candidates, config.min_distance)
    others = [s for s in config.samplers if s != FLAGGED]
    if FLAGGED in config.samplers:  # what callers flagged comes first, all of it the budget allows
        scores = np.asarray(built[FLAGGED].score(candidates, mistakes))
        picker.take(FLAGGED, built[FLAGGED], scores, k, diverse=False)  # each was flagged on purpose
    short = 0
    for sampler_name, quota in _quotas(k - len(picker.taken), others, config.random_share):
        sampler = built[sampler_name]
        short += quota - picker.take(sampler_name, sampler, np.asarray(sampler.score(candidates, mistakes)), quota)
    if short and others:  # what a sampler could not fill goes to the first
        first = others[0]
        picker.take(first, built[first], np.asarray(built[first].score(candidates, mistakes)), short)
    items = []
    for i in picker.taken:
        row = candidates.loc[i]
        sampler_name, reason = picker.why[i]
        items.append(
            QueueItem(
                item_id=uuid.uuid4().hex[:12],
                model=name,
                version=int(row["version"]),
                invoke_id=str(row["invoke_id"]),
                content_id=str(row["content_id"]),
                sampled_at=now,
                sampler=sampler_name,
                reason=reason,
                predicted=str(row["label"]),
                confidence=float(row["confidence"]),
                input_json=_text(row["input_json"]),
                input_blob=_text(row["input_blob"]),
            )
        )
    reviews.add(items)
    return SampleResult(result.model, result.version, items, result.candidates, left - len(items))
