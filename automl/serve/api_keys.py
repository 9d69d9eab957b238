"""API keys for the model server, per model: ``automl keys add | list | revoke``.

A key is shown once, when it is made, as ``amk_<id>_<secret>``; the workspace keeps only its id,
its model and the SHA-256 of the secret (in ``<workspace>/keys.json``, mode 0600). The secret is
32 random bytes, so a plain hash is as strong as a slow one here: nobody can guess the preimage.
``verify`` finds the entry by the id in the key and compares hashes in constant time; it returns
the key's id (what the invoke log records), never the key.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from automl import durable
from automl.clock import utc_now
from automl.errors import UserError

PREFIX = "amk"
KEYS_FILE = "keys.json"
_KEY = re.compile(rf"^{PREFIX}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{43}})$")


@dataclass
class KeyEntry:
    id: str
    model: str
    sha256: str
    created: str
    revoked: str | None = None
    note: str = ""

    def public(self) -> dict[str, Any]:
        """What ``automl keys list`` shows: everything but the hash."""
        out = asdict(self)
        out.pop("sha256")
        return out


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _now() -> str:
    return utc_now()


class KeyStore:
    """The workspace's ``keys.json``: read whole, changed under a file lock, replaced atomically."""

    def __init__(self, workspace: Path) -> None:
        self.path = workspace / KEYS_FILE
        self.lock_path = workspace / f".{KEYS_FILE}.lock"

    def entries(self) -> list[KeyEntry]:
        if not self.path.is_file():
            return []
        try:
            data = json.loads(self.path.read_text())
            return [KeyEntry(**e) for e in data["keys"]]
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise UserError(f"{self.path} is damaged ({err}); restore it from a backup or delete it.") from None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[list[KeyEntry]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            entries = self.entries()
            yield entries
            durable.write_text(self.path, json.dumps({"keys": [asdict(e) for e in entries]}, indent=2), mode=0o600)

    def add(self, model: str, note: str = "") -> tuple[KeyEntry, str]:
        """A new key for ``model``: its entry, and the key itself (shown once, never stored)."""
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        entry = KeyEntry(key_id, model, _digest(secret), _now(), note=note)
        with self._locked() as entries:
            entries.append(entry)
        return entry, f"{PREFIX}_{key_id}_{secret}"

    def revoke(self, key_id: str) -> KeyEntry:
        with self._locked() as entries:
            for entry in entries:
                if entry.id == key_id:
                    if entry.revoked:
                        raise UserError(f"id={key_id}: this key was already revoked on {entry.revoked}.")
                    entry.revoked = _now()
                    return entry
        known = ", ".join(e.id for e in entries if not e.revoked) or "none"
        raise UserError(f"id={key_id}: no such key. Active keys: {known} (see automl keys list).")

    def verify(self, model: str, presented: str | None) -> str | None:
        """The id of the active key ``presented`` for ``model``, or None (malformed, unknown, revoked,
        another model's). Hashes are compared with ``hmac.compare_digest``."""
        match = _KEY.match(presented or "")
        if not match:
            return None
        key_id, secret = match.groups()
        digest = _digest(secret)
        found = None
        for entry in self.entries():
            same = hmac.compare_digest(entry.sha256, digest)
            if same and entry.id == key_id and entry.model == model and not entry.revoked:
                found = entry.id
        return found
