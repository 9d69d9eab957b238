"""Hostile names on every page rendered from the workspace: a model, a recipe and a run named
``<img src=x onerror=alert(1)>`` (a name a folder can have), classes, aliases, trainers, metrics
and reasons called ``<script>alert(1)</script>``. Each must show as its characters: present,
escaped, and never an element or an event handler in the page's markup."""

from __future__ import annotations

import html
import json
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from automl.registry.promote import promote
from automl.registry.store import ModelStore
from automl.store.invokes import InvokeRecord, InvokeWriter
from automl.store.reviews import Annotation, QueueItem, ReviewStore
from automl.testing.runs import fake_run
from automl.ui.access import Access
from automl.ui.server import UiContext, create_app

SCRIPT = "<script>alert(1)</script>"
NAME = "<img src=x onerror=alert(1)>"  # no '/': a model's or a run's folder can be called this
FAST = {"flush_interval_s": 0.02, "publish_interval_s": 0.05}


class Markup(HTMLParser):
    """The elements and attributes a browser would build from the page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.handlers: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.handlers += [f"{tag} {a}" for a, _ in attrs if a.lower().startswith("on")]


def assert_inert(page: str, *hostile: str) -> None:
    for text in hostile:
        assert text not in page, text
        assert html.escape(text, quote=False) in page or html.escape(text) in page, f"{text} is not shown at all"
    markup = Markup()
    markup.feed(page)
    assert "script" not in markup.tags and markup.handlers == []
    assert markup.tags.count("img") == page.count("src='data:image/png;base64,") + page.count(
        'src="data:image/png;base64,'
    )  # every image is a plot, none made of a name


def client(workspace: Path) -> TestClient:
    access = Access.for_host("127.0.0.1", "k" * 32)
    return TestClient(create_app(UiContext(workspace, access)), base_url="http://127.0.0.1")


@pytest.fixture
def hostile(workspace: Path) -> Path:
    """A model called NAME with a class, an alias, a metric, a trainer and a backbone called
    SCRIPT, in production with a candidate rolling out; its invokes, reviewed ones among them; a
    run of a recipe called NAME with its report; a run of a recipe with a hostile class."""
    store = ModelStore(workspace)
    meta = {"classes": ["no", SCRIPT], "features": ["age"], "metric": SCRIPT, "created": SCRIPT,
            "best": {"trainer": SCRIPT, "backbone": SCRIPT, "params": {}},
            "lineage": {"recipe": {"monitor": {"reference": "window", "window": 20}}}}  # fmt: skip
    promote(store, NAME, store.register(NAME, {"w": 1}, meta))
    v2 = store.register(NAME, {"w": 2}, meta)
    store.update_rollout(NAME, lambda s: s.with_rollout(v2, ("shadow", 25, 100), why=f"gate passed {SCRIPT}"))
    aliases = store.root / NAME / "aliases.json"
    aliases.write_text(json.dumps({**json.loads(aliases.read_text()), SCRIPT: 1}))
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with InvokeWriter(workspace, **FAST) as writer:
        for i in range(60):
            label = SCRIPT if i % 3 == 0 else "no"
            writer.log(InvokeRecord(NAME, 1, "production", f"c{i}", {"age": 30 + i % 7}, label,
                                    {"no": 0.6, SCRIPT: 0.4}, 1.0, ts=start + timedelta(minutes=5 * i)))  # fmt: skip
    reviews = ReviewStore(workspace)
    reviews.add([QueueItem(f"{i:012x}", NAME, 1, f"inv{i}", f"c{i}", datetime(2026, 1, 1 + i), SCRIPT, SCRIPT,
                           SCRIPT, 0.6, json.dumps({"age": i}), None) for i in range(2)])  # fmt: skip
    reviews.annotate([Annotation(f"c{i}", NAME, label, SCRIPT, datetime(2026, 1, 5), "review", f"{i:012x}",
                                 None, None) for i, label in ((0, "no"), (1, SCRIPT))])  # fmt: skip
    summary = fake_run(workspace / "runs" / NAME / NAME, classes=("cat", "dog"), examples=60, trials=4)
    run = Path(summary.run_dir)
    written = json.loads((run / "summary.json").read_text())
    written.update(metric=SCRIPT, mode=SCRIPT, best={"trainer": SCRIPT, "backbone": SCRIPT, "params": {}})
    written["model"] = {**written["model"], "alias": SCRIPT}
    (run / "summary.json").write_text(json.dumps(written))
    (run / "report.html").write_text("<!doctype html><p>report</p>")
    fake_run(workspace / "runs" / "pets" / "20260101-000000-abcd", classes=(SCRIPT, "cat", "dog"), examples=90)
    return workspace


def test_the_models_page_shows_hostile_names_as_text(hostile: Path) -> None:
    page = client(hostile).get("/models")
    assert page.status_code == 200
    assert_inert(page.text, NAME, SCRIPT)
    assert page.text.count(html.escape(NAME, quote=False)) == 2  # both versions' rows


def test_the_runs_page_shows_hostile_names_as_text(hostile: Path) -> None:
    page = client(hostile).get("/runs")
    assert page.status_code == 200
    assert_inert(page.text, NAME, SCRIPT)
    assert f"{html.escape(SCRIPT, quote=False)} + {html.escape(SCRIPT, quote=False)}" in page.text  # the winner
    assert 'href="/runs/&lt;img src=x onerror=alert(1)&gt;/&lt;img src=x onerror=alert(1)&gt;/report.html"' in page.text


@pytest.mark.filterwarnings("ignore:ks_2samp")  # scipy, on the ties of these made-up confidences
def test_the_monitoring_page_shows_hostile_names_as_text(hostile: Path) -> None:
    c = client(hostile)
    page = c.get("/monitoring", params={"model": NAME})
    assert page.status_code == 200
    assert f"<option selected>{html.escape(NAME, quote=False)}</option>" in page.text.replace("&#x27;", "'")
    assert_inert(page.text, NAME, SCRIPT)
    assert "could not be shown" not in page.text
    assert "gate passed " + html.escape(SCRIPT, quote=False) in page.text  # the audit trail's reason
    unknown = c.get("/monitoring", params={"model": SCRIPT + NAME})
    assert unknown.status_code == 200
    assert_inert(unknown.text, NAME, SCRIPT)


def test_the_explorer_page_carries_no_data_and_its_api_only_json(hostile: Path) -> None:
    c = client(hostile)
    page = c.get("/explorer")
    assert page.status_code == 200 and SCRIPT not in page.text and NAME not in page.text
    markup = Markup()
    markup.feed(page.text)
    assert markup.handlers == [] and page.text.count("<script") == 1  # its own /static/explorer.js
    assert '<script src="/static/explorer.js" defer></script>' in page.text
    for path in ("/api/explorer/summary?model=pets", "/api/explorer/rows?model=pets&label=" + SCRIPT):
        data = c.get(path)
        assert data.status_code == 200 and data.headers["content-type"] == "application/json", path
        assert data.headers["x-content-type-options"] == "nosniff"
        assert SCRIPT in data.text  # the label as data; the page's script shows it with textContent
    refused = c.get("/api/explorer/rows", params={"model": NAME})
    assert refused.status_code == 400 and refused.headers["content-type"] == "application/json"
    assert NAME not in c.get("/api/explorer/models").text  # not a model name the explorer serves
