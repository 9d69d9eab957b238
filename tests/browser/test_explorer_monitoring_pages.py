"""The explorer and monitoring pages in a real browser, over a real model: ``automl run`` of the
penguins recipe (a few labels flipped, so the model has mistakes to show), served by ``automl
serve`` for a few predictions, three of them sampled and two reviewed; then ``automl ui``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from automl.serve.api_keys import KeyStore
from automl.serve.client import Client
from automl.serve.local import LocalServer
from automl.store.invokes import query_invokes
from automl.store.reviews import Annotation, QueueItem, ReviewStore
from automl.testing.local_ui import LocalUi
from tests.browser.conftest import screenshot
from tests.conftest import REPO, SHARED_DATA
from tests.helpers import wait_for

pytestmark = pytest.mark.slow
FLIPPED = 12  # Adelie rows given Gentoo's label
INVOKES = 60  # more than monitor.min_invokes: drift is compared


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = SHARED_DATA / "penguins" / "penguins.csv"
    if not source.is_file():
        pytest.skip(f"shared datasets not found at {SHARED_DATA}")
    tmp = tmp_path_factory.mktemp("pages")
    data = pd.read_csv(source)
    adelie = data.index[data["species"] == "Adelie"][:FLIPPED]
    data.loc[adelie, "species"] = "Gentoo"
    data.to_csv(tmp / "penguins.csv", index=False)
    ws = tmp / "ws"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "automl", "run", "recipe=penguins", "search=quick"]
    command += [f"data.path={tmp / 'penguins.csv'}", f"workspace={ws}"]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = data.drop(columns=["species"]).sample(n=INVOKES, random_state=0)
    key = KeyStore(ws).add("penguins", "pages")[1]
    with LocalServer.start(ws, ["penguins"], tmp / "serve.log") as server:
        client = Client(server.url, api_key=key)
        records = [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in rows.to_dict("records")]
        answers = [a for i in range(0, INVOKES, 10) for a in client.predict("penguins", records[i : i + 10])]
    assert len(answers) == INVOKES
    query = "SELECT invoke_id, content_id, label, scores FROM invokes ORDER BY seq"
    wait_for(lambda: len(query_invokes(ws, query)) == INVOKES, timeout=60, what="the invokes to be published")
    logged = query_invokes(ws, query)
    sampled = [
        QueueItem(f"{i:012x}", "penguins", 1, r.invoke_id, r.content_id, datetime(2026, 1, 1, 10, i), "low_confidence",
                  "margin 0.1", r.label, max(json.loads(r.scores).values()), json.dumps(records[i]), None)
        for i, r in enumerate(logged.head(3).itertuples())
    ]  # fmt: skip
    reviews = ReviewStore(ws)
    reviews.add(sampled)
    reviews.annotate([Annotation(item.content_id, "penguins", label, "tester", datetime(2026, 1, 2), "review",
                                 item.item_id, item.input_json, None)
                      for item, label in zip(sampled, [sampled[0].predicted, "Chinstrap"], strict=False)])  # fmt: skip
    return ws


@pytest.fixture(scope="module")
def ui(workspace: Path) -> Iterator[LocalUi]:
    with LocalUi.start(workspace, workspace.parent / "ui.log") as started:
        yield started


def loaded(page: Any, count: int) -> None:
    page.wait_for_function("n => window.automlExplorer && window.automlExplorer.loaded >= n", arg=count)


def test_the_explorer_filters_rows_and_shows_the_confused_pair(page: Any, ui: LocalUi) -> None:
    page.goto(f"{ui.base}/explorer?model=penguins")
    loaded(page, 1)
    assert page.locator("#rows tbody tr").count() == 50
    assert page.text_content("#shown") == "1-50 of 344"
    # the flipped labels are the likeliest errors: the first rows are Gentoo by label, Adelie by the model
    first = page.locator("#rows tbody tr >> nth=0 >> td").all_text_contents()
    assert first[1:3] == ["Gentoo", "Adelie"] and float(first[4].split()[0]) < 0.5
    pair = page.locator("#pairs .pair >> nth=0 >> h3").all_text_contents()
    assert any(title.startswith("Gentoo taken for Adelie: ") for title in pair), pair
    assert page.locator("#pairs .pair >> nth=0 >> li").count() >= 2
    page.select_option("#label", "Chinstrap")
    page.fill("#min_conf", "0.9")
    page.click("#filters button[type=submit]")
    loaded(page, 2)
    shown = page.locator("#rows tbody tr")
    assert 0 < shown.count() <= 68
    assert set(page.locator("#rows tbody tr td:nth-child(2)").all_text_contents()) == {"Chinstrap"}
    assert all(int(c.rstrip("%")) >= 90 for c in page.locator("#rows tbody tr td:nth-child(4)").all_text_contents())
    screenshot(page, "explorer-training")
    page.click("#filters button[type=reset]")
    loaded(page, 3)
    page.select_option("#set", "reviewed")
    loaded(page, 4)
    reviewed = page.locator("#rows tbody tr")
    assert reviewed.count() == 3
    assert "Chinstrap" in page.locator("#rows tbody tr td:nth-child(2)").all_text_contents()
    assert "low_confidence: margin 0.1" in page.locator("#rows tbody tr td:nth-child(5)").all_text_contents()
    screenshot(page, "explorer-reviewed")


def test_monitoring_shows_traffic_and_its_plots_render(page: Any, ui: LocalUi) -> None:
    page.goto(f"{ui.base}/monitoring?model=penguins", wait_until="load")
    images = page.evaluate("Array.from(document.images, i => [i.alt, i.complete, i.naturalWidth])")
    assert images and all(complete and width > 0 for _, complete, width in images), images
    shown = [alt for alt, _, _ in images]
    assert {"Drift per check", "Predicted-class balance", "Reviewer agreement per day"} <= set(shown), shown
    traffic = page.locator("section:has(h2:text('Versions and traffic')) tbody tr td").all_text_contents()
    assert traffic[:4] == ["v1", "production", str(INVOKES), "100.0%"]
    assert page.text_content("#split") == "configured split: production v1"
    assert "1 of 2 reviewed invokes (50% agreement)" in (page.text_content("#agreement") or "")
    screenshot(page, "monitoring")
