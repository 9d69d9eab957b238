"""``automl inspect`` ranks flipped labels first, from a run's out-of-fold probabilities."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl.cli import main
from automl.loop.label_issues import inspect_labels


def _run(workspace: Path, n: int = 400, flips: int = 20) -> set[str]:
    rng = np.random.default_rng(0)
    classes = ["a", "b", "c"]
    truth = rng.integers(0, 3, n)
    proba = rng.dirichlet([1, 1, 1], n) * 0.3
    proba[np.arange(n), truth] += 0.7
    given = truth.copy()
    flipped = rng.choice(n, flips, replace=False)
    given[flipped] = (truth[flipped] + 1) % 3
    oof = pd.DataFrame({"example_id": [f"c{i}" for i in range(n)], "source": [str(i) for i in range(n)]})
    oof["label"] = np.asarray(classes)[given]
    for j, c in enumerate(classes):
        oof[f"proba_{c}"] = proba[:, j]
    run_dir = workspace / "runs" / "r" / "20260101-000000-abcd"
    run_dir.mkdir(parents=True)
    oof.to_parquet(run_dir / "oof.parquet")
    (run_dir / "summary.json").write_text("{}")  # a finished run: its summary is written last
    return {f"c{i}" for i in flipped}


def test_the_flipped_labels_come_first(workspace: Path) -> None:
    flipped = _run(workspace)
    report = inspect_labels(workspace, "r", top=len(flipped))
    found = {s.content_id for s in report.suspects}
    assert len(found & flipped) >= 0.9 * len(flipped)
    first = report.suspects[0]
    assert first.flagged and first.given != first.suggested and 0 <= first.score < 0.2
    assert 0.5 * len(flipped) <= report.flagged <= 2 * len(flipped) and report.confused


def test_the_command_and_its_errors(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "recipe=r"]) == 2
    assert "no finished run" in capsys.readouterr().err
    _run(workspace)
    assert main(["inspect", "recipe=r", "n=5", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["suspects"]) == 5 and {"content_id", "source", "given", "suggested", "score"} <= set(
        data["suspects"][0]
    )
    assert main(["inspect", "recipe=r", "n=0"]) == 2


def test_near_duplicates_and_outliers_come_from_the_cached_embeddings(workspace: Path) -> None:
    from automl.features.embeddings import EmbeddingCache
    from automl.registry.store import ModelStore

    _run(workspace, n=120, flips=6)
    oof = pd.read_parquet(next(workspace.glob("runs/r/*/oof.parquet")))
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(120, 16)).astype(np.float32)
    vectors[7] = vectors[3]  # the same input twice
    EmbeddingCache(workspace, "emb-v1").store(oof["example_id"].tolist(), vectors)
    lineage = {"run_id": "20260101-000000-abcd"}
    ModelStore(workspace).register(
        "r", {"w": 1}, {"classes": ["a", "b", "c"], "lineage": lineage, "embedding_identity": "emb-v1"}
    )
    report = inspect_labels(workspace, "r", top=5)
    assert ("3", "7") in report.near_duplicates and not report.notes


def test_suspects_go_to_the_review_queue_and_come_back_as_relabels(workspace: Path, tmp_path: Path) -> None:
    from omegaconf import OmegaConf

    from automl.config.compose import to_recipe
    from automl.config.validate import check_recipe
    from automl.loop.label_issues import send_to_review
    from automl.plugins.manager import get_plugins
    from automl.registry.store import ModelStore
    from automl.store.reviews import Annotation, ReviewStore
    from automl.train.annotations import with_annotations
    from automl.train.runner import load_table

    rng = np.random.default_rng(2)
    csv = tmp_path / "data.csv"
    frame = pd.DataFrame({"x": rng.normal(size=60).round(3), "label": ["a", "b", "c"] * 20})
    frame.to_csv(csv, index=False)
    recipe_dict = {"name": "r", "data": {"path": str(csv), "target": "label"}}
    plugins = get_plugins()
    recipe = to_recipe(OmegaConf.create(recipe_dict))
    table = load_table(check_recipe(recipe, plugins), plugins)
    proba = np.full((60, 3), 0.1)
    proba[np.arange(60), (np.arange(60) + 1) % 3] = 0.8  # the model disagrees with every label
    oof = pd.DataFrame({"example_id": table.ids, "source": [str(i) for i in range(60)], "label": table.labels})
    for j, c in enumerate(["a", "b", "c"]):
        oof[f"proba_{c}"] = proba[:, j]
    run_dir = workspace / "runs" / "r" / "20260101-000000-abcd"
    run_dir.mkdir(parents=True)
    oof.to_parquet(run_dir / "oof.parquet")
    (run_dir / "summary.json").write_text("{}")  # a finished run: its summary is written last
    lineage = {"run_id": run_dir.name, "recipe": recipe_dict}
    ModelStore(workspace).register("r", {"w": 1}, {"classes": ["a", "b", "c"], "lineage": lineage})

    report = inspect_labels(workspace, "r", top=4)
    queued = send_to_review(workspace, report, plugins)
    assert [i.content_id for i in queued] == [s.content_id for s in report.suspects]
    assert (
        queued[0].sampler == "label_issue"
        and json.loads(queued[0].input_json)["x"] == frame["x"].iat[int(report.suspects[0].source)]
    )
    assert send_to_review(workspace, report, plugins) == []  # never twice
    at = pd.Timestamp("2026-12-06").to_pydatetime()
    ReviewStore(workspace).annotate(
        [Annotation(i.content_id, "r", i.predicted, "me", at, "review", i.item_id, i.input_json, None) for i in queued]
    )
    merged = with_annotations(table, recipe, workspace)
    assert (merged.relabelled, merged.from_reviews) == (4, 0)


def test_a_run_still_being_written_is_not_the_last_run(workspace: Path) -> None:
    from automl.loop.label_issues import last_run

    _run(workspace)  # a finished run
    newer = workspace / "runs" / "r" / "20990101-000000-ffff"
    newer.mkdir(parents=True)
    (newer / "oof.parquet").write_bytes(b"half written")  # no summary yet
    assert last_run(workspace, "r").name == "20260101-000000-abcd"
