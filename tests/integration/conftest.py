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
