"""``ServeConfig``: what ``automl serve`` starts (``automl.cli.serve`` reads it from the arguments)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

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
    log_invokes: bool = True  # False only to measure what logging costs (bench/bench_serve.py)
    rollouts: bool = True  # walk automatic rollouts (deploy.rollout) through their steps
    runtime: str = "auto"  # auto: a version's exported copy where its export passed; native: never

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeConfig:
        data = json.loads(text)
        data["models"] = tuple(data["models"])
        return cls(**data)


def check_models(names: Sequence[str]) -> tuple[str, ...]:
    """Models are served by name; their versions are routed by each model's rollout state."""
    if not names:
        raise UserError("models=[]: name at least one model.")
    bad = [n for n in names if ":" in n or "@" in n]
    if bad:
        raise UserError(
            f"{bad[0]}: serve a model by NAME; its versions are routed by its rollout state "
            "(automl models promote), and any version can be called at /v1/models/NAME/versions/V/predict."
        )
    return tuple(dict.fromkeys(names))


def check_served(workspace: Path, models: Sequence[str]) -> tuple[str, ...]:
    """The models to serve, each registered in the workspace with a production version."""
    from automl.registry.store import ModelStore

    names = check_models(models)
    store = ModelStore(workspace)
    known = store.names()
    for name in names:
        if name not in known:
            raise UserError(f"model={name}: no such model in {workspace}. Models: {', '.join(known) or 'none'}.")
        if store.rollout(name).production is None:
            raise UserError(
                f"{name} has no production version to serve; promote one: automl models promote model={name}:VERSION."
            )
    return names
