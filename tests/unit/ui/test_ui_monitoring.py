"""The monitoring page through Starlette's TestClient, over a real invoke log (InvokeWriter's
published parts), a rollout in progress with the server's analysis, and reviewed invokes."""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from automl.registry.promote import promote
from automl.registry.store import ModelStore
from automl.serve.rollout_controller import analysis_path
from automl.store.invokes import InvokeRecord, InvokeWriter
from automl.store.reviews import Annotation, QueueItem, ReviewStore
from automl.ui.access import Access
from automl.ui.server import UiContext, create_app

SCRIPT = "<script>alert(1)</script>"
FAST = {"flush_interval_s": 0.02, "publish_interval_s": 0.05}


def client(workspace: Path) -> TestClient:
    access = Access.for_host("127.0.0.1", "k" * 32)
    return TestClient(create_app(UiContext(workspace, access)), base_url="http://127.0.0.1")


@pytest.fixture
def served(workspace: Path) -> Path:
    """Model ``m`` (classes ``no`` and a script), v1 in production and v2 on a 25% step; 240
    invokes over four hours, v2 answering from the third; two of three reviewed invokes relabelled."""
    store = ModelStore(workspace)
    meta = {"classes": ["no", SCRIPT], "features": ["age"],
            "lineage": {"recipe": {"monitor": {"reference": "window", "window": 60}}}}  # fmt: skip
    promote(store, "m", store.register("m", {"w": 1}, meta))
    v2 = store.register("m", {"w": 2}, meta)
    store.update_rollout("m", lambda s: s.with_rollout(v2, ("shadow", 25, 100), why="test: the gate passed"))
    store.update_rollout("m", lambda s: s.stepped("test: shadow done"))
    analysis = {"candidate": v2, "at": "2026-01-01T04:00:00", "compared": 42,
                "checks": [{"name": "agreement", "passed": True, "detail": "0.98 >= 0.9"},
                           {"name": "p99 latency", "passed": None, "detail": f"waiting {SCRIPT}"}]}  # fmt: skip
    analysis_path(store, "m").write_text(json.dumps(analysis))
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with InvokeWriter(workspace, **FAST) as writer:
        for i in range(240):
            version, route = (2, "canary") if i >= 120 and i % 4 == 0 else (1, "production")
            label = SCRIPT if i % 3 == 0 else "no"
            writer.log(InvokeRecord("m", version, route, f"c{i}", {"age": 30 + i % 7}, label,
                                    {"no": 0.6, SCRIPT: 0.4}, 1.0, ts=start + timedelta(minutes=i)))  # fmt: skip
    items = [QueueItem(f"{i:012x}", "m", 1, f"inv{i}", f"c{i}", datetime(2026, 1, 1 + i // 2), "low_confidence",
                       "why", "no", 0.6, json.dumps({"age": i}), None) for i in range(3)]  # fmt: skip
    reviews = ReviewStore(workspace)
    reviews.add(items)
    reviews.annotate([Annotation(f"c{i}", "m", label, "ann", datetime(2026, 1, 5), "review", f"{i:012x}", None, None)
                      for i, label in ((0, "no"), (1, SCRIPT), (2, SCRIPT))])  # fmt: skip
    return workspace


def images(page: str) -> list[bytes]:
    return [
        base64.b64decode(data) for data in re.findall(r"src=['\"]data:image/png;base64,([A-Za-z0-9+/=]+)['\"]", page)
    ]


@pytest.mark.filterwarnings("ignore:ks_2samp")  # scipy, on the ties of these made-up confidences
def test_the_page_shows_traffic_rollout_drift_and_agreement(served: Path) -> None:
    c = client(served)
    page = c.get("/monitoring?model=m")
    assert page.status_code == 200, page.text
    text = page.text
    assert '<a href="/monitoring" aria-current=page>Monitoring</a>' in text
    # versions and traffic: 210 answered by v1, 30 by v2 (the canary), shares of answered requests
    assert re.search(r"<td>v1</td><td>production</td><td>210</td><td>87.5%</td>", text)
    assert re.search(r"<td>v2</td><td>canary</td><td>30</td><td>12.5%</td>", text)
    assert "configured split: production v1; candidate v2 (25% canary)" in text
    # the rollout: its steps with the current one, the analysis' checks, the audit trail
    assert (
        "<ol id=steps class=steps><li>shadow</li><li aria-current=step class=current>25%</li><li>100%</li></ol>" in text
    )
    assert "<td>agreement</td><td>pass</td>" in text and "<td>p99 latency</td><td>wait</td>" in text
    assert "test: shadow done" in text and "last analysis 2026-01-01T04:00:00: 42 compared requests" in text
    # drift and the class balance over time; reviewer agreement: 1 of 3 kept the model's label
    assert "Predicted-class balance over time" in text and "Traffic share per version over time" in text
    assert "reviewers gave the model's label to 1 of 3 reviewed invokes (33% agreement)" in text
    shown = images(text)
    assert len(shown) >= 5 and all(png.startswith(b"\x89PNG") for png in shown)
    # the script label is text everywhere
    assert SCRIPT not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<script" not in text


def test_an_unknown_or_hostile_model_name_shows_the_first_model(served: Path) -> None:
    page = client(served).get("/monitoring", params={"model": SCRIPT})
    assert page.status_code == 200 and SCRIPT not in page.text
    assert "no model called &lt;script&gt;" in page.text and "<option selected>m</option>" in page.text


def test_an_empty_workspace_says_so(workspace: Path) -> None:
    page = client(workspace).get("/monitoring")
    assert page.status_code == 200 and "no models in" in page.text
    assert not (workspace / "reviews").exists()


def test_a_model_without_invokes_or_reviews_says_what_is_missing(workspace: Path) -> None:
    store = ModelStore(workspace)
    promote(store, "m", store.register("m", {"w": 1}, {"classes": ["a", "b"], "features": ["x"]}))
    page = client(workspace).get("/monitoring")
    assert page.status_code == 200
    for said in ("no invokes of m logged yet", "no rollout running; production is v1", "no reviewed invokes of m yet",
                 "0 invokes of m: too few to compare"):  # fmt: skip
        assert said in page.text, said


def test_the_drift_section_is_computed_once_per_ttl(tmp_path, monkeypatch) -> None:
    from automl.ui import monitoring

    calls: list[str] = []
    monkeypatch.setattr(monitoring, "_drift_section", lambda ws, name: calls.append(name) or f"<p>{len(calls)}</p>")
    monkeypatch.setattr(monitoring, "_drift_cache", {})
    first = monitoring.drift_section(tmp_path, "m")
    assert monitoring.drift_section(tmp_path, "m") == first and calls == ["m"]
    monitoring.drift_section(tmp_path, "other")
    monkeypatch.setattr(monitoring, "DRIFT_TTL_S", 0.0)
    assert monitoring.drift_section(tmp_path, "m") != first and calls == ["m", "other", "m"]


@pytest.mark.filterwarnings("ignore:ks_2samp")
def test_the_plots_use_no_pyplot(served: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib.pyplot as plt

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("pyplot's global state is not safe from the pages' threads")

    for name in ("figure", "subplots", "gcf", "gca", "close"):
        monkeypatch.setattr(plt, name, refused)
    text = client(served).get("/monitoring?model=m").text
    assert "could not be shown" not in text and len(images(text)) >= 5


def test_one_models_slow_drift_blocks_only_its_own_loads(tmp_path, monkeypatch) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from automl.ui import monitoring

    release, started = threading.Event(), threading.Event()
    calls: list[str] = []

    def compute(ws: Path, name: str) -> str:
        calls.append(name)
        if name == "images":
            started.set()
            assert release.wait(10)
        return f"<p>{name}</p>"

    monkeypatch.setattr(monitoring, "_drift_section", compute)
    monkeypatch.setattr(monitoring, "_drift_cache", {})
    monkeypatch.setattr(monitoring, "_drift_locks", {})
    with ThreadPoolExecutor(3) as pool:
        slow = pool.submit(monitoring.drift_section, tmp_path, "images")
        assert started.wait(10)
        again = pool.submit(monitoring.drift_section, tmp_path, "images")  # waits for the first
        assert pool.submit(monitoring.drift_section, tmp_path, "tables").result(timeout=2) == "<p>tables</p>"
        assert not slow.done() and not again.done()
        release.set()
        assert slow.result(10) == again.result(10) == "<p>images</p>"
    assert sorted(calls) == ["images", "tables"]  # the waiting load reused the first one's
