"""``ServeConfig``: what ``automl serve`` starts, parsed from ``key=value`` arguments."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automl.errors import UserError

DEFAULT_BACKEND = "litserve"
ROUTE_KEY_HEADER = "X-Route-Key"
"""The header whose value pins a caller to one side of a canary split (a stable hash of it)."""


@dataclass(frozen=True)
class ServeConfig:
    workspace: str
    models: tuple[str, ...]
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_inflight: int = 64
    timeout_s: float = 30.0
    max_body_bytes: int = 1024 * 1024
    max_inputs: int = 256
    backend: str = DEFAULT_BACKEND
    grace_s: float = 60.0
    extra: dict[str, Any] = field(default_factory=dict)  # backend test options (slow predict; log_invokes)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeConfig:
        data = json.loads(text)
        data["models"] = tuple(data["models"])
        return cls(**data)


def parse_models(model: str | None, models: str | None) -> tuple[str, ...]:
    """``model=NAME`` or ``models=[a,b]`` (also ``models=a,b``)."""
    if bool(model) == bool(models):
        raise UserError("automl serve: give model=NAME or models=[a,b] (one of them).")
    if model:
        names = [model]
    else:
        assert models is not None
        names = [n.strip() for n in models.strip().removeprefix("[").removesuffix("]").split(",")]
    names = [n for n in names if n]
    if not names:
        raise UserError("models=[]: name at least one model.")
    bad = [n for n in names if ":" in n or "@" in n]
    if bad:
        raise UserError(
            f"{bad[0]}: serve a model by NAME; its versions are routed by its rollout state "
            "(automl models promote), and any version can be called at /v1/models/NAME/versions/V/predict."
        )
    return tuple(dict.fromkeys(names))


def _int(key: str, value: str | None, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise UserError(f"{key}={value}: expected a whole number from {low} to {high}.") from None
    if not low <= number <= high:
        raise UserError(f"{key}={value}: expected a whole number from {low} to {high}.")
    return number


def _seconds(key: str, value: str | None, default: float) -> float:
    if value is None:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and 0 < seconds <= 86_400):
        raise UserError(f"{key}={value}: expected seconds above 0 (at most a day), e.g. {key}={default:g}.")
    return seconds


def build_config(workspace: Path, values: dict[str, str | None]) -> ServeConfig:
    """A checked config: every model exists in the workspace and has a production version."""
    from automl.registry.store import ModelStore

    names = parse_models(values.get("model"), values.get("models"))
    store = ModelStore(workspace)
    known = store.names()
    for name in names:
        if name not in known:
            raise UserError(f"model={name}: no such model in {workspace}. Models: {', '.join(known) or 'none'}.")
        if store.rollout(name).production is None:
            raise UserError(
                f"{name} has no production version to serve; promote one: automl models promote model={name}:VERSION."
            )
    return ServeConfig(
        workspace=str(workspace),
        models=names,
        host=values.get("host") or "127.0.0.1",
        port=_int("port", values.get("port"), 8000, 1, 65535),
        workers=_int("workers", values.get("workers"), 1, 1, 64),
        max_inflight=_int("max_inflight", values.get("max_inflight"), 64, 1, 100_000),
        timeout_s=_seconds("timeout_s", values.get("timeout_s"), 30.0),
        grace_s=_seconds("grace_s", values.get("grace_s"), 60.0),
        max_inputs=_int("max_inputs", values.get("max_inputs"), 256, 1, 100_000),
        max_body_bytes=_int("max_body_bytes", values.get("max_body_bytes"), 1024 * 1024, 1024, 2**31),
        backend=values.get("backend") or DEFAULT_BACKEND,
    )
