"""Where the invoke log lives in a workspace."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class InvokePaths:
    """``<workspace>/invokes/``: the writer's database, the published parts, the input blobs."""

    workspace: Path

    @property
    def root(self) -> Path:
        return Path(self.workspace) / "invokes"

    @property
    def db(self) -> Path:
        """Open only by the writer (DuckDB refuses other processes, even read-only, while it writes)."""
        return self.root / "invokes.duckdb"

    @property
    def published(self) -> Path:
        """Immutable Parquet parts: what readers read."""
        return self.root / "published"

    @property
    def blobs(self) -> Path:
        """Image inputs by content id: ``blobs/ab/abcd...``."""
        return self.root / "blobs"

    @property
    def lock(self) -> Path:
        """Held (flock) by the one process that owns the store: a writer, or gc when none runs."""
        return self.root / "owner.lock"
