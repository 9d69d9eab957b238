"""The invoke records of one answered request: one per input, the key's id, never the key."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from automl.store.invokes.record import InvokeRecord, new_invoke_id


def make_records(
    model: str,
    version: int,
    route: str,
    inputs: Sequence[Any],
    output: dict[str, Any],
    latency_ms: float,
    key_id: str | None,
    invoke_ids: Sequence[str] | None = None,
) -> list[InvokeRecord]:
    embeddings = output.get("embeddings") or [None] * len(inputs)
    ids = list(invoke_ids) if invoke_ids is not None else [new_invoke_id() for _ in inputs]
    return [
        InvokeRecord(
            model=model,
            version=version,
            route=route,
            content_id=output["content_ids"][i],
            input=x,
            label=output["labels"][i],
            scores=output["scores"][i],
            latency_ms=latency_ms,
            embedding=embeddings[i],
            key_id=key_id,
            invoke_id=ids[i],
            runtime=output.get("runtime"),
        )
        for i, x in enumerate(inputs)
    ]
