"""The one way automl writes a moment into a file: UTC, ISO 8601 with its offset, to the second
(key creation and revocation, model registration, rollout changes)."""

from __future__ import annotations

from datetime import datetime, timezone


def utc_now() -> str:
    """Now, e.g. ``2026-12-06T03:05:00+00:00``."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
