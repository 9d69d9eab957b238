"""What gc deletes: how long each model's invokes are kept (``Retention``), and what one gc
did (``GcResult``, per model ``ModelGc``); shared by ``gc``, the writer that runs a requested gc,
and ``automl gc``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from automl.errors import UserError
from automl.store.invokes.record import naive_utc

DEFAULT_RETENTION_DAYS = 90.0  # the default of the recipe's deploy.retention_days


@dataclass(frozen=True)
class Retention:
    """How long invokes are kept, counted back from ``now`` (UTC, naive): ``days`` per model,
    ``default_days`` for every model not in it; None keeps them forever."""

    days: Mapping[str, float | None]
    default_days: float | None
    now: datetime

    def days_of(self, model: str) -> float | None:
        return self.days.get(model, self.default_days)

    def cutoff(self, model: str) -> datetime | None:
        """Invokes of ``model`` before this time are deleted; None: none are."""
        days = self.days_of(model)
        if days is None:
            return None
        try:
            return self.now - timedelta(days=days)
        except OverflowError:  # more days than the calendar has: nothing is that old
            return datetime.min

    def to_json(self) -> dict[str, Any]:
        return {"now": self.now.isoformat(), "default_days": self.default_days, "days": dict(self.days)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Retention:
        return cls(dict(data["days"]), data["default_days"], datetime.fromisoformat(data["now"]))


@dataclass(frozen=True)
class ModelGc:
    """What gc did (or, in a dry run, would do) to one model's invokes."""

    model: str
    retention_days: float | None  # None: kept forever
    cutoff: datetime | None  # invokes before this time (UTC) are deleted
    db_rows: int  # rows deleted from the writer's database
    published_rows: int  # rows deleted from the published parts
    blobs: int  # inputs of its deleted invokes that no remaining invoke uses

    @property
    def invokes(self) -> int:
        """Invokes deleted: each is a row of the database and of a part, unless a crash left it in one only."""
        return max(self.db_rows, self.published_rows)

    def to_json(self) -> dict[str, Any]:
        cutoff = self.cutoff.replace(tzinfo=timezone.utc).isoformat() if self.cutoff else None
        return {**asdict(self), "cutoff": cutoff, "invokes": self.invokes}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelGc:
        cutoff = naive_utc(datetime.fromisoformat(data["cutoff"])) if data["cutoff"] else None
        return cls(**{k: v for k, v in data.items() if k != "invokes"} | {"cutoff": cutoff})


@dataclass(frozen=True)
class GcResult:
    models: tuple[ModelGc, ...]  # every model named in the retention or found in the log, by name
    blobs: int  # input files deleted (also ones that no invoke referenced at all)
    dry_run: bool = False  # nothing was deleted; the counts are what would have been

    @property
    def db_rows(self) -> int:
        return sum(m.db_rows for m in self.models)

    @property
    def published_rows(self) -> int:
        return sum(m.published_rows for m in self.models)

    @property
    def invokes(self) -> int:
        return sum(m.invokes for m in self.models)

    def model(self, name: str) -> ModelGc:
        for entry in self.models:
            if entry.model == name:
                return entry
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {"models": [m.to_json() for m in self.models], "blobs": self.blobs, "dry_run": self.dry_run}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GcResult:
        return cls(tuple(ModelGc.from_json(m) for m in data["models"]), data["blobs"], data["dry_run"])


def check_days(value: object, what: str) -> float | None:
    """``value`` as days to keep (None: forever); a UserError saying what is wrong otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise UserError(f"{what} must be a number of days >= 0, or null to keep invokes forever. Got {value!r}.")
    return float(value)
