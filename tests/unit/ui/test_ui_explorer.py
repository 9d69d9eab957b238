"""The data explorer's page and JSON API through Starlette's TestClient: filters, pagination on
the server, a hostile label kept as data, images only from the data folder, empty workspaces."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from starlette.testclient import TestClient

from automl.data.table import PROBA_PREFIX
from automl.registry.meta import TEXT_TASK
from automl.store.reviews import Annotation, QueueItem, ReviewStore
from automl.testing.runs import fake_run
from automl.ui.access import Access
from automl.ui.projects import Project, save_project
from automl.ui.server import UiContext, create_app

SCRIPT = "<script>alert(1)</script>"
KEY = "k" * 32


def client(workspace: Path) -> TestClient:
    return TestClient(create_app(UiContext(workspace, Access.for_host("127.0.0.1", KEY))), base_url="http://127.0.0.1")


def rows(c: TestClient, **params: Any) -> dict[str, Any]:
    response = c.get("/api/explorer/rows", params={"model": "pets", **params})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def run(workspace: Path) -> Path:
    summary = fake_run(
        workspace / "runs" / "pets" / "20260101-000000-abcd", classes=(SCRIPT, "cat", "dog"), examples=300
    )
    return Path(summary.run_dir)


def test_training_rows_filter_and_page_on_the_server(workspace: Path, run: Path) -> None:
    c = client(workspace)
    assert c.get("/api/explorer/models").json() == {"models": ["pets"]}
    first = rows(c, limit=20)
    assert (first["total"], len(first["rows"]), first["offset"]) == (300, 20, 0)
    issues = [r["issue"] for r in first["rows"]]
    assert issues == sorted(issues)  # likely label errors first
    second = rows(c, limit=20, offset=20)
    assert not {r["id"] for r in first["rows"]} & {r["id"] for r in second["rows"]}
    assert second["rows"][0]["issue"] >= issues[-1]
    oof = pd.read_parquet(run / "oof.parquet")
    cats = rows(c, label="cat", predicted="dog", limit=200)
    assert cats["total"] == len(cats["rows"]) > 0
    assert {(r["label"], r["predicted"]) for r in cats["rows"]} == {("cat", "dog")}
    assert cats["total"] == int(
        (
            (oof["label"] == "cat")
            & (oof[[f"{PROBA_PREFIX}{k}" for k in (SCRIPT, "cat", "dog")]].to_numpy().argmax(1) == 2)
        ).sum()
    )
    sure = rows(c, min_conf=0.5, max_conf=0.8, sort="confidence", limit=200)
    confidences = [r["confidence"] for r in sure["rows"]]
    assert confidences == sorted(confidences) and all(0.5 <= x <= 0.8 for x in confidences)
    low = rows(c, max_issue=0.2, limit=200)
    assert 0 < low["total"] < 300 and all(r["issue"] <= 0.2 for r in low["rows"])
    assert rows(c, label=SCRIPT, limit=5)["rows"][0]["label"] == SCRIPT
    last = rows(c, limit=200, offset=200)
    assert len(last["rows"]) == 100 and rows(c, offset=400)["rows"] == []


def test_label_issue_scores_are_inspect_labels_scores(workspace: Path, run: Path) -> None:
    from automl.loop.label_issues import inspect_labels

    report = inspect_labels(workspace, "pets", top=5)
    shown = rows(client(workspace), limit=5)["rows"]
    assert [(r["id"], r["issue"], r["flagged"]) for r in shown] == [
        (s.content_id, round(s.score, 4), s.flagged) for s in report.suspects
    ]


def test_confused_pairs_come_from_the_confusion_matrix_side_by_side(workspace: Path, run: Path) -> None:
    from automl.evaluate.run_metrics import confusion, read_predictions

    counts = confusion(read_predictions(run / "oof.parquet", None))[0]
    summary = client(workspace).get("/api/explorer/summary?model=pets").json()
    assert summary["classes"] == [SCRIPT, "cat", "dog"] and summary["training"] == 300
    top = summary["confused"][0]
    a, b = (summary["classes"].index(s["label"]) for s in top["sides"])
    off = counts + counts.T
    np.fill_diagonal(off, 0)
    assert top["count"] == off.max() == counts[a, b] + counts[b, a]
    assert [s["count"] for s in top["sides"]] == [counts[a, b], counts[b, a]]
    for side in top["sides"]:
        assert all((e["label"], e["predicted"]) == (side["label"], side["predicted"]) for e in side["examples"])
        assert 0 < len(side["examples"]) <= 4


def test_bad_parameters_are_one_line_400s(workspace: Path, run: Path) -> None:
    c = client(workspace)
    for params in ({"limit": "0"}, {"limit": "500"}, {"offset": "-1"}, {"min_conf": "2"}, {"max_issue": "x"},
                   {"set": "all"}, {"sort": "random"}, {"model": "../../etc"}):  # fmt: skip
        response = c.get("/api/explorer/rows", params={"model": "pets", **params})
        assert response.status_code == 400 and "error" in response.json(), params


def review_items(workspace: Path) -> list[QueueItem]:
    save_project(workspace, Project("pets", TEXT_TASK, ["cat", "dog", SCRIPT]))
    start = datetime(2026, 1, 1)
    items = [
        QueueItem(
            f"{i:012x}",
            "pets",
            2,
            f"inv{i}",
            f"c{i}",
            start + timedelta(minutes=i),
            "low_confidence" if i % 2 else "random",
            "why",
            "cat",
            0.4 + i / 20,
            json.dumps(f"a text {i} <b>x</b>"),
            None,
        )  # fmt: skip
        for i in range(6)
    ]
    reviews = ReviewStore(workspace)
    reviews.add(items)
    at = datetime(2026, 1, 2)
    reviews.annotate([Annotation(f"c{i}", "pets", label, "ann", at, "review", f"{i:012x}", None, None)
                      for i, label in ((0, "cat"), (1, SCRIPT), (2, "dog"))])  # fmt: skip
    return items


def test_reviewed_invokes_filter_by_sampler_and_label(workspace: Path, run: Path) -> None:
    review_items(workspace)
    c = client(workspace)
    summary = c.get("/api/explorer/summary?model=pets").json()
    assert summary["reviewed"] == 6 and summary["samplers"] == ["low_confidence", "random"]
    everything = rows(c, set="reviewed")
    assert everything["total"] == 6 and everything["rows"][0]["id"] == f"{5:012x}"  # newest first
    assert everything["rows"][-1]["text"] == "a text 0 <b>x</b>" and everything["rows"][-1]["label"] == "cat"
    sampled = rows(c, set="reviewed", reason="low_confidence")
    assert sampled["total"] == 3 and {r["sampler"] for r in sampled["rows"]} == {"low_confidence"}
    hostile = rows(c, set="reviewed", label=SCRIPT)["rows"]
    assert [(r["id"], r["label"], r["predicted"], r["status"]) for r in hostile] == [
        (f"{1:012x}", SCRIPT, "cat", "reviewed")
    ]
    paged = rows(c, set="reviewed", sort="confidence", limit=2, offset=2)
    assert [r["confidence"] for r in paged["rows"]] == [0.5, 0.55] and paged["total"] == 6
    assert rows(c, set="reviewed", min_issue=0.1)["total"] == 0  # no label-quality score for invokes


def test_the_page_carries_no_data_and_its_script_no_html(workspace: Path, run: Path) -> None:
    c = client(workspace)
    page = c.get("/explorer")
    assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    assert SCRIPT not in page.text and '<a href="/explorer" aria-current=page>Explorer</a>' in page.text
    assert '<a href="/explorer"' in c.get("/models").text
    script = (Path(__file__).parents[3] / "automl" / "ui" / "static" / "explorer.js").read_text()
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script
    data = c.get("/api/explorer/summary?model=pets")
    assert data.headers["content-type"] == "application/json" and SCRIPT in data.json()["classes"]


def test_an_empty_workspace_says_so(workspace: Path) -> None:
    c = client(workspace)
    assert c.get("/explorer").status_code == 200
    assert c.get("/api/explorer/models").json() == {"models": []}
    summary = c.get("/api/explorer/summary?model=nothing")
    assert summary.status_code == 200 and summary.json()["notes"] == [
        "nothing has no finished run and no reviewed invokes yet"
    ]
    for kind in ("training", "reviewed"):
        empty = rows(c, model="nothing", set=kind)
        assert empty["total"] == 0 and empty["rows"] == [] and "nothing" in empty["empty"]
    assert not (workspace / "reviews").exists()  # reading created no store


@pytest.mark.filterwarnings("ignore:May not flag all label issues")  # cleanlab, on three examples
def test_images_are_served_only_from_the_data_folder(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image

    folder = tmp_path / "photos"
    (folder / "dog").mkdir(parents=True)
    inside = folder / "dog" / "a.png"
    Image.new("RGB", (8, 8), (200, 0, 0)).save(inside)
    outside = tmp_path / "secret.png"
    Image.new("RGB", (8, 8)).save(outside)
    run = workspace / "runs" / "pets" / "20260101-000000-abcd"
    run.mkdir(parents=True)
    sources = [str(inside), str(folder / "dog" / ".." / ".." / "secret.png"), str(folder / "dog" / "missing.png")]
    proba = {f"{PROBA_PREFIX}cat": [0.2, 0.3, 0.6], f"{PROBA_PREFIX}dog": [0.8, 0.7, 0.4]}
    oof = {"example_id": ["a", "b", "c"], "source": sources, "fold": [0, 1, 2], "label": ["dog", "cat", "dog"]}
    pd.DataFrame({**oof, **proba}).to_parquet(run / "oof.parquet")
    (run / "summary.json").write_text(json.dumps({"task": "image_classification"}))
    meta = SimpleNamespace(recipe={"data": {"path": str(folder)}}, task="image_classification", embedding_identity=None)
    monkeypatch.setattr("automl.loop.label_issues.run_meta", lambda ws, recipe, run_id: meta)
    c = client(workspace)
    shown = rows(c, sort="order")["rows"]
    assert [r["kind"] for r in shown] == ["image"] * 3 and shown[0]["src"] == "/api/explorer/image/pets/0"
    image = c.get(shown[0]["src"])
    assert image.status_code == 200 and image.content == inside.read_bytes()
    assert c.get("/api/explorer/image/pets/1").status_code == 404  # outside the data folder
    assert c.get("/api/explorer/image/pets/2").status_code == 404  # gone
    assert c.get("/api/explorer/image/pets/9").status_code == 404
    assert c.get("/api/explorer/image/..%2F..%2Fetc/0").status_code == 404


def test_a_run_being_written_does_not_count_until_its_summary_is_there(workspace: Path, run: Path) -> None:
    c = client(workspace)
    assert c.get("/api/explorer/summary?model=pets").json()["run_id"] == run.name
    writing = run.parent / "20270101-000000-ffff"  # newer; its oof.parquet half written, no summary yet
    writing.mkdir()
    (writing / "oof.parquet").write_bytes((run / "oof.parquet").read_bytes()[:500])
    summary = c.get("/api/explorer/summary?model=pets")
    assert summary.status_code == 200 and summary.json()["run_id"] == run.name
    assert rows(c, limit=5)["total"] == 300
    fresh = client(workspace)  # a fresh process too: nothing cached
    assert fresh.get("/api/explorer/summary?model=pets").json()["run_id"] == run.name
    assert rows(fresh, limit=5)["total"] == 300


def test_the_cache_follows_the_summary(workspace: Path, run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from automl.ui import explorer

    built: list[str] = []
    real = explorer.load_run
    monkeypatch.setattr(explorer, "load_run", lambda ws, run_dir: built.append(run_dir.name) or real(ws, run_dir))
    c = client(workspace)
    (run / "summary.json").rename(run / "summary.tmp")  # oof.parquet there, summary not yet
    assert c.get("/api/explorer/summary?model=pets").json()["run_id"] is None and built == []
    (run / "summary.tmp").rename(run / "summary.json")
    c.get("/api/explorer/summary?model=pets")
    c.get("/api/explorer/summary?model=pets")
    assert built == [run.name]  # built once, kept
    summary = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**summary, "threshold": 0.9}))
    stat = (run / "summary.json").stat()
    os.utime(run / "summary.json", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    c.get("/api/explorer/summary?model=pets")
    assert built == [run.name, run.name]  # the summary changed: built again


def test_a_nan_probability_leaves_its_row_out_with_a_note(workspace: Path, run: Path) -> None:
    oof = pd.read_parquet(run / "oof.parquet")
    oof.loc[[0, 5], f"{PROBA_PREFIX}cat"] = np.nan
    oof.loc[9, f"{PROBA_PREFIX}dog"] = 1.0000001
    oof.to_parquet(run / "oof.parquet", index=False)
    c = client(workspace)
    summary = c.get("/api/explorer/summary?model=pets")
    assert summary.status_code == 200 and summary.json()["training"] == 298
    assert any("2 of 300 out-of-fold rows have no probability (NaN)" in n for n in summary.json()["notes"])
    shown = rows(c, limit=200, sort="order")["rows"] + rows(c, limit=200, offset=200, sort="order")["rows"]
    assert len(shown) == 298 and {r["id"] for r in shown} == set(oof["example_id"].drop([0, 5]).astype(str))
    assert all(r["confidence"] is None or 0 <= r["confidence"] <= 1 for r in shown)
