"""``ServeConfig``: what ``automl serve`` starts (``automl.cli.serve`` reads it from the arguments)."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from automl.errors import UserError

DEFAULT_BACKEND = "litserve"
ROUTE_KEY_HEADER = "X-Route-Key"
"""The header whose value pins a caller to one side of a canary split (a stable hash of it)."""


MAX_AUTO_WORKERS = 4  # each worker holds every served model: memory grows with them


def auto_workers(tasks: Collection[str], cores: int | None = None) -> int:
    """``workers=auto``, from the machine and what is served. Tables only: one worker, since a
    table's graph answers in a fraction of a millisecond and the front process is the bottleneck
    (``income`` on 2 cores, 8 clients: 622 req/s with one worker, 485 with two). A backbone: one
    worker per core (at most ``MAX_AUTO_WORKERS``), each call on one thread (``dog_classifier``
    on 2 cores, one client: 63 req/s and p50 15 ms with two one-thread workers, 42 req/s and 26 ms
    with one two-thread worker; bench/README.md). Dynamic batching gained nothing on these CPUs
    (a batch of 8 images cost as much per image as one) and is not used."""
    if all(task == "tabular_classification" for task in tasks):
        return 1
    return max(1, min(MAX_AUTO_WORKERS, cores or os.cpu_count() or 1))


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
