"""Real recipes end to end on a real local Ray: files, registry, reproducibility, failures."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import automl
from tests.integration.conftest import run_cli

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("local_ray")]

QUICK = {"search.time_budget_s": None, "search.max_trials": 4, "search.scheduler": "fifo"}


def run_penguins(workspace: Path, **overrides: object) -> dict:
    return automl.run("penguins", workspace=str(workspace), **{**QUICK, **overrides})


def test_a_run_writes_summary_oof_folds_and_a_registered_version(tmp_path: Path, shared_data: Path) -> None:
    summary = run_penguins(tmp_path)
    run_dir = Path(summary["run_dir"])
    assert run_dir.parent == tmp_path / "runs" / "penguins"
    saved = json.loads((run_dir / "summary.json").read_text())
    for key in (
        "recipe",
        "task",
        "metric",
        "score",
        "score_std",
        "best",
        "trials",
        "failed_trials",
        "mode",
        "duration_s",
        "model",
        "data",
    ):
        assert key in saved, key
    assert saved["metric"] == "f1_macro" and saved["score"] > 0.9 and saved["mode"] == "search"
    assert saved["trials"] == 4 and saved["failed_trials"] == 0
    assert set(saved["best"]) == {"trainer", "backbone", "params"} and saved["best"]["backbone"] is None
    assert saved["model"] == {
        "name": "penguins",
        "version": 1,
        "alias": "production",
        "rollout": False,
        "reason": "no production version yet; every model test passed",
    }
    assert saved["gate"]["promote"] and saved["gate"]["production"] is None
    assert saved["data"]["rows"] == 344 and len(saved["data"]["content_hash"]) == 32
    oof = pd.read_parquet(run_dir / "oof.parquet")
    assert list(oof.columns) == [
        "example_id",
        "source",
        "fold",
        "label",
        "proba_Adelie",
        "proba_Chinstrap",
        "proba_Gentoo",
    ]
    assert oof[["proba_Adelie", "proba_Chinstrap", "proba_Gentoo"]].sum(axis=1).round(6).eq(1).all()
    folds = pd.read_parquet(run_dir / "folds.parquet")
    assert sorted(folds["fold"].unique()) == [0, 1, 2, 3, 4]
    board = pd.read_csv(run_dir / "leaderboard.csv")
    assert board["rank"].iloc[0] == 1 and (board["status"] == "completed").sum() >= 4
    assert (run_dir / "importance.csv").exists() and (run_dir / "recipe.yaml").exists()
    bundle = json.loads((tmp_path / "models" / "penguins" / "versions" / "1" / "bundle.json").read_text())
    assert bundle["format"] == 2 and bundle["lineage"]["data_hash"] == saved["data"]["content_hash"]
    assert {"automl", "scikit-learn", "ray"} <= set(bundle["lineage"]["packages"])

    model = automl.load("penguins", workspace=str(tmp_path))
    rows = pd.read_csv(shared_data / "penguins" / "penguins.csv")
    assert (model.predict(rows) == rows["species"]).mean() > 0.95
    assert list(model.predict_proba(rows.head(3)).columns) == ["Adelie", "Chinstrap", "Gentoo"]


def test_same_recipe_data_and_seed_give_the_same_leaderboard(tmp_path: Path, shared_data: Path) -> None:
    boards = []
    for i in range(2):
        summary = run_penguins(tmp_path / str(i), seed=3)
        boards.append(pd.read_csv(Path(summary["run_dir"]) / "leaderboard.csv")[["candidate", "score"]])
    pd.testing.assert_frame_equal(boards[0], boards[1])


def test_a_trial_that_raises_is_recorded_and_the_run_goes_on(tmp_path: Path, shared_data: Path) -> None:
    summary = run_penguins(
        tmp_path,
        **{
            "search.trainers": ["logistic_regression", "hist_gradient_boosting"],
            "+search.space.logistic_regression.max_iter": -1,
        },
    )
    assert summary["failed_trials"] == 2 and summary["trials"] == 4
    assert "logistic_regression" not in json.dumps(summary["best"])
    board = pd.read_csv(Path(summary["run_dir"]) / "leaderboard.csv")
    failed = board[board["status"] == "failed"]
    assert len(failed) == 2 and failed["error"].str.contains("max_iter").all()


def test_income_reaches_a_good_auc_on_a_short_budget(tmp_path: Path, shared_data: Path) -> None:
    summary = automl.run("income", workspace=str(tmp_path), **{"search.time_budget_s": 30, "eval.cv_folds": 3})
    assert summary["score"] > 0.91
    assert summary["duration_s"] < 30 + 5 + 15  # the budget rule, with a margin for a shared machine
    if summary["importance"]:
        assert summary["importance"][0]["importance"] > 0
    else:  # the budget left no time for it, and the summary says so
        assert any("feature importance skipped" in note for note in summary["budget"]["notes"])


def test_cli_run_predict_models_and_the_promotion_gate(tmp_path: Path, shared_data: Path) -> None:
    env = {"AUTOML_WORKSPACE": str(tmp_path)}
    args = ["run", "recipe=penguins", "search=quick", "search.time_budget_s=null", "eval.cv_folds=3"]
    first = run_cli(*args, env=env)
    assert first.returncode == 0, first.stderr
    assert "penguins v1 (production)" in first.stdout and "summary.json" in first.stdout
    again = run_cli(*args, env=env)  # same data, same seed: same score, so not better
    assert again.returncode == 3, again.stderr
    assert "not promoted" in again.stderr

    out = tmp_path / "pred.csv"
    source = shared_data / "penguins" / "penguins.csv"
    pred = run_cli("predict", "model=penguins", f"input={source}", f"output={out}", env=env)
    assert pred.returncode == 0, pred.stderr
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["row", "predicted", "proba_Adelie", "proba_Chinstrap", "proba_Gentoo"]
    assert (frame["predicted"] == pd.read_csv(source)["species"]).mean() > 0.95

    models = json.loads(run_cli("models", "--json", env=env).stdout)
    assert [(m["version"], m["aliases"]) for m in models] == [(1, ["production"]), (2, ["candidate"])]
    assert run_cli("models", "delete", "model=penguins:1", env=env).returncode == 2
    assert run_cli("models", "delete", "model=penguins:2", env=env).returncode == 0
    assert [m["version"] for m in json.loads(run_cli("models", "--json", env=env).stdout)] == [1]


def test_a_rerun_on_grown_data_retrains_instead_of_searching(tmp_path: Path, shared_data: Path) -> None:
    rows = pd.read_csv(shared_data / "penguins" / "penguins.csv")
    data = tmp_path / "penguins.csv"
    rows.iloc[: int(len(rows) * 0.9)].to_csv(data, index=False)
    overrides = {**QUICK, "search.max_trials": 6, "data.path": str(data), "search.retrain_top_k": 3}
    first = automl.run("penguins", workspace=str(tmp_path), **overrides)
    assert first["mode"] == "search" and first["trials"] == 6
    rows.to_csv(data, index=False)  # about 10% more examples
    second = automl.run("penguins", workspace=str(tmp_path), **overrides)
    assert second["mode"] == "retrain" and second["previous_run"] == first["run_id"]
    assert second["trials"] == 3 and 0.05 < second["data_change"] < 0.2
    assert second["data"]["rows"] == len(rows)
    # a local retrain re-evaluates its few configurations in the driver: no Ray to start
    assert second["timing"]["ray_start_s"] == 0 and "in this process" in second["budget"]["search_end"]
    board = pd.read_csv(Path(second["run_dir"]) / "leaderboard.csv")
    assert (board["status"] == "completed").sum() >= 3 and board["fold_scores"].notna().all()
    third = automl.run("penguins", workspace=str(tmp_path), **{**overrides, "search.mode": "search"})
    assert third["mode"] == "search" and third["trials"] == 6
    changed = automl.run("penguins", workspace=str(tmp_path), **{**overrides, "eval.cv_folds": 3})
    assert changed["mode"] == "search" and "recipe changed" in changed["mode_reason"]


def test_reviewed_labels_are_trained_on_in_the_next_run(tmp_path: Path, shared_data: Path) -> None:
    """Reviews of invokes become examples, a review of a training row changes its label, and the
    summary counts both."""
    from datetime import datetime

    from automl.store.reviews import Annotation, ReviewStore

    first = run_penguins(tmp_path)
    frame = pd.read_csv(shared_data / "penguins" / "penguins.csv")
    oof = pd.read_parquet(Path(first["run_dir"]) / "oof.parquet")
    features = [c for c in frame.columns if c != "species"]
    at = datetime(2026, 12, 6)
    new_rows = frame.head(5).assign(bill_length_mm=lambda f: f["bill_length_mm"] + 0.05)  # not in the data
    notes = [
        Annotation(f"invoke-{i}", "penguins", row["species"], "tester", at, "import", f"item{i}",
                   json.dumps({c: (None if pd.isna(row[c]) else row[c]) for c in features}), None)
        for i, (_, row) in enumerate(new_rows.iterrows())
    ]  # fmt: skip
    first_id, first_label = oof["example_id"].iloc[0], oof["label"].iloc[0]
    other = next(c for c in sorted(set(oof["label"])) if c != first_label)
    notes.append(Annotation(first_id, "penguins", other, "tester", at, "import", "item-x", None, None))
    ReviewStore(tmp_path).annotate(notes)
    second = run_penguins(tmp_path, **{"search.mode": "search"})
    assert (second["data"]["from_reviews"], second["data"]["relabelled"]) == (5, 1)
    assert second["data"]["rows"] == first["data"]["rows"] + 5
