"""The files a run leaves in its folder: leaderboard, out-of-fold predictions, folds, importance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from automl.data.table import PROBA_PREFIX, ExampleTable
from automl.evaluate.leaderboard import LeaderboardEntry
from automl.evaluate.trials import TrialRecord


def leaderboard_rows(board: list[LeaderboardEntry], trials: list[TrialRecord]) -> list[dict[str, Any]]:
    """Every leaderboard entry (ranked), then the trials that did not complete, as flat rows.

    ``work_s`` is a trial's seconds inside the trial function (fitting and scoring its folds);
    None for the ensemble, which blends its members' out-of-fold predictions and fits nothing."""
    work_s = {f"t{t.index:03d}": t.work_s for t in trials}
    rows: list[dict[str, Any]] = [
        {
            "rank": i + 1,
            "candidate": c.name,
            "trainer": c.trainer,
            "backbone": c.backbone,
            "status": "completed",
            "score": c.score,
            "score_std": c.score_std,
            "fold_scores": c.fold_scores,
            "threshold": c.threshold,
            "params": c.params,
            "error": None,
            "work_s": work_s.get(c.name),
        }
        for i, c in enumerate(board)
    ]
    for t in trials:
        if t.status != "completed":
            rows.append(
                {
                    "rank": None,
                    "candidate": f"t{t.index:03d}",
                    "trainer": t.trainer,
                    "backbone": t.backbone,
                    "status": t.status,
                    "score": t.score,
                    "score_std": None,
                    "fold_scores": t.fold_scores,
                    "threshold": None,
                    "params": t.params,
                    "error": t.error,
                    "work_s": t.work_s,
                }
            )
    return rows


def write_artifacts(
    run_dir: Path,
    table: ExampleTable,
    folds: np.ndarray,
    winner: LeaderboardEntry,
    leaderboard: list[dict[str, Any]],
    importance: list[dict[str, Any]],
) -> None:
    import pandas as pd

    ids = pd.DataFrame({"example_id": table.ids, "source": [str(s) for s in table.sources]})
    pd.concat([ids, pd.DataFrame({"fold": folds})], axis=1).to_parquet(run_dir / "folds.parquet", index=False)
    oof = ids.assign(fold=folds, label=table.labels.astype(str))
    for i, cls in enumerate(table.classes):
        oof[f"{PROBA_PREFIX}{cls}"] = winner.oof[:, i]
    oof.to_parquet(run_dir / "oof.parquet", index=False)
    board = pd.DataFrame(leaderboard)
    for col in ("fold_scores", "params"):
        board[col] = board[col].map(lambda v: json.dumps(v, default=str))
    board.to_csv(run_dir / "leaderboard.csv", index=False)
    if importance:
        pd.DataFrame(importance).to_csv(run_dir / "importance.csv", index=False)
