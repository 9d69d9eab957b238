"""The pages' app through Starlette's TestClient: the key for writes, escaping, undo, sort orders,
paths outside the project refused."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from automl.registry.meta import TEXT_TASK
from automl.store.reviews import QueueItem, ReviewStore
from automl.ui.access import Access
from automl.ui.projects import Project, create_project, save_project
from automl.ui.server import UiContext, create_app

KEY = "k" * 32
SCRIPT = "<script>alert(1)</script>"
BASE = "http://127.0.0.1:8765"


def client(workspace: Path, host: str = "127.0.0.1") -> tuple[TestClient, Access]:
    access = Access.for_host(host, KEY)
    return TestClient(create_app(UiContext(workspace, access, reviewer="tester")), base_url=BASE), access


@pytest.fixture
def texts(tmp_path: Path) -> Path:
    path = tmp_path / "pool" / "texts.txt"
    path.parent.mkdir()
    path.write_text("\n".join(f"message number {i}" for i in range(6)) + f"\n{SCRIPT} <b>bold</b>\n")
    return path


@pytest.fixture
def project(workspace: Path, texts: Path) -> Project:
    return create_project(workspace, "notes", str(texts), ["ham", SCRIPT])


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {KEY}"}


def pending(c: TestClient, sort: str = "arrival", model: str = "notes") -> list[dict]:
    response = c.get(f"/api/queue?model={model}&sort={sort}")
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_reads_are_open_on_loopback_and_writes_need_the_key(workspace: Path, project: Project) -> None:
    c, _ = client(workspace)
    items = pending(c)
    assert len(items) == 7 and items[0]["text"] == "message number 0" and items[0]["predicted"] is None
    body = {"model": "notes", "item_id": items[0]["id"], "label": "ham"}
    refused = c.post("/api/answer", json=body)
    assert refused.status_code == 401 and "key" in refused.json()["error"]
    wrong = c.post("/api/answer", json=body, headers={"X-Automl-Key": "x" * 32})
    assert wrong.status_code == 403 and wrong.json() == {"error": "the key is wrong"}
    for path in ("/api/labels", "/api/undo", "/api/discard", "/api/projects", "/api/train"):
        assert c.post(path, json={}).status_code == 401
    assert len(pending(c)) == 7  # nothing was written
    saved = c.post("/api/answer", json=body, headers={"X-Automl-Key": KEY})
    assert saved.status_code == 200 and saved.json()["labelled"] == 1
    note = ReviewStore(workspace).annotations("notes")[0]
    assert note.reviewer == "tester"
    assert (note.label, note.source, note.item_id, json.loads(note.input_json or "")) == (
        "ham", "review", items[0]["id"], "message number 0",
    )  # fmt: skip


def test_the_one_time_link_opens_a_strict_session_cookie(workspace: Path, project: Project) -> None:
    c, access = client(workspace)
    token = access.login_token
    opened = c.get(f"/login?token={token}", follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == "/review"
    cookie = opened.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    item = pending(c)[0]["id"]
    assert c.post("/api/answer", json={"model": "notes", "item_id": item, "label": "ham"}).status_code == 200
    other, _ = client(workspace)
    assert other.get(f"/login?token={token}").status_code == 403  # used once
    assert (
        c.post(
            "/api/undo", json={"model": "notes", "item_id": item}, headers={"Origin": "http://evil.test"}
        ).status_code
        == 403
    )


def test_binding_elsewhere_needs_a_key_and_then_every_page_does(workspace: Path, project: Project) -> None:
    with pytest.raises(ValueError, match="not loopback"):
        Access.for_host("0.0.0.0", None)
    access = Access.for_host("0.0.0.0", KEY)
    c = TestClient(create_app(UiContext(workspace, access)), base_url="http://10.0.0.5:8765")
    assert c.get("/api/queue?model=notes").status_code == 401
    assert c.get("/api/queue?model=notes", headers=auth()).status_code == 200


def test_a_foreign_host_header_is_refused_on_loopback(workspace: Path, project: Project) -> None:
    access = Access.for_host("127.0.0.1", KEY)
    c = TestClient(create_app(UiContext(workspace, access)), base_url="http://rebound.example:8765")
    assert c.get("/review").status_code == 403


def test_labels_and_texts_are_escaped_on_every_page(workspace: Path, project: Project) -> None:
    c, _ = client(workspace)
    page = c.get("/review")
    assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    assert SCRIPT not in page.text  # the page carries no data: review.js renders it with textContent
    data = c.get("/api/queue?model=notes&sort=arrival").json()
    assert SCRIPT in data["labels"] and data["items"][-1]["text"] == f"{SCRIPT} <b>bold</b>"
    models = c.get("/models").text + c.get("/runs").text
    assert "<script>" not in models.replace('<script src="/static/review.js"', "")
    script = (Path(__file__).parents[3] / "automl" / "ui" / "static" / "review.js").read_text()
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script


def test_undo_puts_an_answer_back_and_discard_leaves_the_queue(workspace: Path, project: Project) -> None:
    c, _ = client(workspace)
    first, second = (i["id"] for i in pending(c)[:2])
    assert (
        c.post("/api/answer", json={"model": "notes", "item_id": first, "label": "ham"}, headers=auth()).status_code
        == 200
    )
    again = c.post("/api/answer", json={"model": "notes", "item_id": first, "label": "ham"}, headers=auth())
    assert again.status_code == 409
    assert c.post("/api/discard", json={"model": "notes", "item_id": second}, headers=auth()).status_code == 200
    assert [i["id"] for i in pending(c)][:1] != [first] and len(pending(c)) == 5
    assert c.post("/api/undo", json={"model": "notes", "item_id": first}, headers=auth()).status_code == 200
    assert ReviewStore(workspace).annotations("notes") == []
    assert pending(c)[0]["id"] == first and len(pending(c)) == 6
    assert c.post("/api/undo", json={"model": "notes", "item_id": first}, headers=auth()).status_code == 409


def test_a_label_added_on_the_spot_can_be_used_at_once(workspace: Path, project: Project) -> None:
    c, _ = client(workspace)
    item = pending(c)[0]["id"]
    unknown = c.post("/api/answer", json={"model": "notes", "item_id": item, "label": "spam"}, headers=auth())
    assert unknown.status_code == 400 and "add it first" in unknown.json()["error"]
    added = c.post("/api/labels", json={"model": "notes", "label": "spam"}, headers=auth())
    assert added.json()["labels"] == ["ham", SCRIPT, "spam"]
    assert (
        c.post("/api/answer", json={"model": "notes", "item_id": item, "label": "spam"}, headers=auth()).status_code
        == 200
    )
    assert c.post("/api/labels", json={"model": "notes", "label": "a\nb"}, headers=auth()).status_code == 400


def _queued(workspace: Path, confidences: list[float], scores: list[dict[str, float]]) -> list[str]:
    """Sampled invokes of a model queue (the page's view of `automl sample`'s items)."""
    save_project(workspace, Project("spam", TEXT_TASK, ["ham", "spam"]))
    start = datetime(2026, 1, 1)
    items = [
        QueueItem(
            f"{i:012x}",
            "spam",
            1,
            f"inv{i}",
            f"c{i}",
            start + timedelta(minutes=i),
            "low_confidence",
            "low confidence",
            "ham",
            conf,
            json.dumps(f"text {i}"),
            None,
        )  # fmt: skip
        for i, conf in enumerate(confidences)
    ]
    ReviewStore(workspace).add(items)
    return [i.item_id for i in items]


def test_sort_orders(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _queued(workspace, [0.9, 0.55, 0.7, math.nan], [])
    margins = {ids[0]: 0.8, ids[1]: 0.4, ids[2]: 0.05}
    monkeypatch.setattr("automl.ui.queue._invoke_margins", lambda ws, items: margins)
    c, _ = client(workspace)
    assert [i["id"] for i in pending(c, "arrival", "spam")] == ids
    assert [i["id"] for i in pending(c, "uncertainty", "spam")] == [ids[1], ids[2], ids[0], ids[3]]
    assert [i["id"] for i in pending(c, "margin", "spam")] == [ids[2], ids[1], ids[0], ids[3]]
    bad = c.get("/api/queue?model=spam&sort=random")
    assert bad.status_code == 400 and "arrival" in bad.json()["error"]


def image_project(workspace: Path, tmp_path: Path) -> Path:
    """A project ``pets`` of three small PNGs; their folder."""
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", (8, 8), (i * 80, 0, 0)).save(folder / f"p{i}.png")
    create_project(workspace, "pets", str(folder), ["dog", "cat"])
    return folder


def test_images_are_served_only_from_the_project_folder(workspace: Path, tmp_path: Path) -> None:
    from PIL import Image

    folder = image_project(workspace, tmp_path)
    c, _ = client(workspace)
    items = pending(c, model="pets")
    assert items[0]["kind"] == "image" and items[0]["name"] == "p0.png"
    image = c.get(items[0]["src"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    # An item whose path points outside the folder (a tampered store) is not served.
    outside = tmp_path / "secret.png"
    Image.new("RGB", (4, 4)).save(outside)
    ReviewStore(workspace).add(
        [
            QueueItem(
                "0123456789ab",
                "pets",
                0,
                "",
                "x",
                datetime(2026, 1, 1),
                "unlabelled",
                "",
                "",
                math.nan,
                json.dumps(str(folder / ".." / "secret.png")),
                None,
            )
        ]  # fmt: skip
    )
    assert c.get("/api/input/pets/0123456789ab").status_code == 404
    assert c.get("/api/input/pets/..%2F..%2Fetc%2Fpasswd").status_code == 404
    assert c.get("/static/../projects.py").status_code == 404
    assert c.get("/runs/pets/..%2F..%2Fkeys.json/report.html").status_code == 404


def test_a_project_from_the_page_checks_its_source(workspace: Path, texts: Path) -> None:
    c, _ = client(workspace)
    made = c.post("/api/projects", json={"name": "inbox", "source": str(texts), "labels": "ham, spam"}, headers=auth())
    assert made.status_code == 200 and made.json() == {"name": "inbox", "task": TEXT_TASK, "labels": ["ham", "spam"]}
    for body in (
        {"name": "../x", "source": str(texts)},
        {"name": "ok", "source": str(texts.parent / "missing")},
        {"name": "ok", "source": "/etc/passwd"},
    ):
        response = c.post("/api/projects", json=body, headers=auth())
        assert response.status_code == 400, body
    assert "inbox" in c.get("/api/session").json()["queues"]


def test_training_needs_two_labels_with_two_examples(workspace: Path, project: Project) -> None:
    c, _ = client(workspace)
    item = pending(c)[0]["id"]
    c.post("/api/answer", json={"model": "notes", "item_id": item, "label": "ham"}, headers=auth())
    refused = c.post("/api/train", json={"model": "notes"}, headers=auth())
    assert refused.status_code == 400 and "at least 2 examples of each of two labels" in refused.json()["error"]
    assert c.get("/api/train?model=notes").json() == {"state": "idle"}


def test_a_sampled_image_invoke_is_served_from_the_invoke_log(workspace: Path, tmp_path: Path) -> None:
    import io

    from PIL import Image

    from automl.registry.meta import IMAGE_TASK
    from automl.store.invokes import InvokePaths
    from automl.store.invokes.blobs import put_blob

    data = io.BytesIO()
    Image.new("RGB", (6, 6), (0, 90, 0)).save(data, format="PNG")
    key = put_blob(InvokePaths(workspace).blobs, data.getvalue())
    save_project(workspace, Project("pets", IMAGE_TASK, ["dog", "cat"]))
    item = QueueItem("00000000000a", "pets", 1, "inv", key, datetime(2026, 1, 1), "low_confidence", "margin 0.1",
                     "dog", 0.55, None, key)  # fmt: skip
    ReviewStore(workspace).add([item])
    c, _ = client(workspace)
    shown = pending(c, model="pets")[0]
    assert (shown["kind"], shown["predicted"], shown["confidence"], shown["reason"]) == (
        "image",
        "dog",
        0.55,
        "margin 0.1",
    )
    assert c.get(shown["src"]).content == data.getvalue()


def test_the_runs_page_links_a_run_report_and_serves_it_sandboxed(workspace: Path) -> None:
    run = workspace / "runs" / "spam" / "20260101-000000-abcd"
    run.mkdir(parents=True)
    summary = {"metric": "f1_macro", "score": 0.97, "best": {"trainer": "tfidf_linear"}, "mode": "search",
               "model": {"version": 1, "alias": "production"}}  # fmt: skip
    (run / "summary.json").write_text(json.dumps(summary))
    c, _ = client(workspace)
    page = c.get("/runs").text
    assert "0.9700" in page and "report.html" not in page  # no report written: no link
    (run / "report.html").write_text("<html><script>1</script></html>")
    page = c.get("/runs").text
    assert 'href="/runs/spam/20260101-000000-abcd/report.html"' in page
    report = c.get("/runs/spam/20260101-000000-abcd/report.html")
    # served sandboxed: no script runs in a report (it has none), images only as data: URIs
    from automl.ui.catalog import REPORT_POLICY

    assert report.status_code == 200 and report.headers["content-security-policy"] == REPORT_POLICY
    assert "script-src" not in REPORT_POLICY and "allow-scripts" not in REPORT_POLICY
