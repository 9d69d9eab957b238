"""Shared fixtures: a workspace per test and the path to the shared datasets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("AUTOML_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    ws = tmp_path / "ws"
    monkeypatch.setenv("AUTOML_WORKSPACE", str(ws))
    return ws


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared datasets not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def small_csv(tmp_path: Path) -> Path:
    """A tiny learnable CSV: numeric and categorical features with gaps, a binary label."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 120
    y = np.array(["yes", "no"])[np.arange(n) % 2]
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n).astype(float) + (y == "yes") * 10,
            "city": rng.choice(["paris", "rome", "oslo"], n),
            "score": rng.normal(size=n) + (y == "yes"),
            "label": y,
        }
    )
    frame.loc[3, "age"] = np.nan
    frame.loc[5, "city"] = None
    path = tmp_path / "small.csv"
    frame.to_csv(path, index=False)
    return path
