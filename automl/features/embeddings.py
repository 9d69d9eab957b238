"""The embedding cache: each example is embedded once per backbone identity.

Layout: ``<workspace>/cache/embeddings/<hash of identity>/`` with ``identity.txt`` and shards
``shard-*.npz`` (``ids``, ``vectors``). New vectors go to a new shard, so a run that adds 100
examples embeds and writes only those 100; readers never see a half-written shard (write, then
rename, with fsyncs: ``automl.durable``).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from automl import durable
from automl.plugins.components import Embedder


@dataclass(frozen=True)
class EmbedStats:
    cached: int
    computed: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.computed / self.seconds if self.seconds > 0 else 0.0


class EmbeddingCache:
    def __init__(self, workspace: Path, identity: str) -> None:
        key = hashlib.sha256(identity.encode()).hexdigest()[:24]
        self.folder = workspace / "cache" / "embeddings" / key
        self.identity = identity

    def load(self) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for shard in sorted(self.folder.glob("shard-*.npz")):
            with np.load(shard, allow_pickle=False) as data:
                found.update(zip(data["ids"].tolist(), data["vectors"], strict=True))
        return found

    def store(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        if not len(ids):
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        durable.write_text(self.folder / "identity.txt", self.identity)
        name = f"shard-{time.strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(4)}"
        ids_array, vectors32 = np.asarray(ids, dtype=str), vectors.astype(np.float32)
        # a file object, not a path: np.savez would add ".npz" to the temp name
        durable.write_with(self.folder / f"{name}.npz", lambda f: np.savez(f, ids=ids_array, vectors=vectors32))


def _first_missing(ids: Sequence[str], known: dict[str, np.ndarray]) -> list[int]:
    """Positions of ``ids`` not in ``known`` (the first of duplicates)."""
    first: dict[str, int] = {}
    for i, content_id in enumerate(ids):
        if content_id not in known:
            first.setdefault(content_id, i)
    return list(first.values())


def missing_ids(embedder: Embedder, ids: Sequence[str], workspace: Path) -> list[int]:
    """Positions of ``ids`` whose vector is not cached for ``embedder`` (the first of duplicates)."""
    return _first_missing(ids, EmbeddingCache(workspace, embedder.identity).load())


def embed_cached(
    embedder: Embedder, ids: Sequence[str], inputs: Sequence[Any], workspace: Path, batch_size: int = 256
) -> tuple[np.ndarray, EmbedStats]:
    """Vectors for ``inputs`` (row-aligned with ``ids``), computing only those not cached."""
    started = time.perf_counter()
    cache = EmbeddingCache(workspace, embedder.identity)
    known = cache.load()
    n_cached = sum(content_id in known for content_id in ids)
    todo = _first_missing(ids, known)
    for start in range(0, len(todo), batch_size):
        chunk = todo[start : start + batch_size]
        vectors = np.asarray(embedder.embed([inputs[i] for i in chunk]), dtype=np.float32)
        cache.store([ids[i] for i in chunk], vectors)
        known.update(zip((ids[i] for i in chunk), vectors, strict=True))
    matrix = np.stack([known[content_id] for content_id in ids]) if len(ids) else np.zeros((0, 0), np.float32)
    return matrix, EmbedStats(n_cached, len(todo), time.perf_counter() - started)
