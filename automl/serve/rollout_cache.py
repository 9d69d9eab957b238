"""``RolloutCache``: a model's rollout state, read again only when its file changes."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from automl.errors import UserError
from automl.plugins.serving import RequestError

log = logging.getLogger("automl.serve")


class RolloutCache:
    """``rollout.json`` read again when the file changes (keyed on inode, mtime and size: every
    write replaces the file). A damaged file keeps the last good state (and is logged once)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._cache: dict[str, tuple[tuple[int, int, int], Any]] = {}

    def get(self, name: str) -> Any:
        path = Path(self.store.root) / name / "rollout.json"
        try:
            st = path.stat()
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = (-1, -1, -1)
        hit = self._cache.get(name)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        try:
            state = self.store.rollout(name)
        except UserError as err:
            if hit is None:
                raise RequestError(503, f"the rollout state of {name} cannot be read") from None
            log.error("keeping the last good rollout state of %s: %s", name, err)
            self._cache[name] = (stamp, hit[1])
            return hit[1]
        self._cache[name] = (stamp, state)
        return state
