"""Integration fixtures: one real local Ray per test module, started small."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    from automl.testing import local_ray as start_local_ray

    with start_local_ray():
        yield


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``automl ARGS`` in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "automl", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=timeout,
    )


def review_queue(workspace: Path, model: str, truth: dict[str, str], path: Path) -> int:
    """Play the reviewer: every queued item of ``model`` gets its invoke's true label, imported with
    ``automl review import`` through a CSV at ``path``. Returns how many were reviewed."""
    import csv

    from automl.store.reviews import ReviewStore

    queue = ReviewStore(workspace).items(model)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["item_id", "label"])
        writer.writerows([i.item_id, truth[i.invoke_id]] for i in queue)
    done = run_cli("review", "import", f"model={model}", f"input={path}", f"workspace={workspace}")
    assert done.returncode == 0, done.stderr
    return len(queue)
