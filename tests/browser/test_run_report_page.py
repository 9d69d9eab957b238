"""The run report (``report.html``) in a real browser: the confusion matrix and every plot render,
and a class called ``<script>alert(1)</script>`` is text, not a script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from automl.testing.local_ui import LocalUi
from automl.testing.runs import fake_run
from tests.browser.conftest import screenshot
from tests.conftest import REPO, SHARED_DATA

SCRIPT = "<script>alert(1)</script>"
IMAGES = 5  # trial history, ROC, precision-recall, reliability, coverage


def open_report(page: Any, report: Path) -> list[str]:
    """Load the page; the dialogs it opened (an injected ``alert`` would be one)."""
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(report.as_uri(), wait_until="load")
    return dialogs


def check_rendered(page: Any, classes: int) -> None:
    images = page.evaluate("Array.from(document.images, i => [i.alt, i.complete, i.naturalWidth])")
    assert len(images) == IMAGES and all(complete and width > 0 for _, complete, width in images), images
    matrices = page.locator("#confusion table")
    assert matrices.count() == 2  # counts, then shares of each true class
    assert matrices.nth(0).locator("tr").count() == classes + 1
    assert page.locator("#confusion table >> nth=0").bounding_box()["height"] > 0
    assert SCRIPT in page.locator("#confusion th").all_text_contents()
    assert SCRIPT in page.locator("#classes td").all_text_contents()
    assert page.locator("script").count() == 0


def test_a_report_renders_its_plots_and_a_script_label_as_text(page: Any, tmp_path: Path) -> None:
    summary = fake_run(tmp_path / "runs" / "pets" / "r1", classes=(SCRIPT, "cat", "dog"), examples=600, trials=12)
    from automl.evaluate.run_report import write_run_report

    dialogs = open_report(page, write_run_report(Path(summary.run_dir)))
    check_rendered(page, 3)
    assert not dialogs
    screenshot(page, "run-report-fake")


def test_the_report_served_by_automl_ui_renders_under_its_policy(page: Any, tmp_path: Path) -> None:
    from automl.evaluate.run_report import write_run_report
    from automl.ui.catalog import REPORT_POLICY

    workspace = tmp_path / "ws"
    summary = fake_run(workspace / "runs" / "pets" / "20260101-000000-abcd", classes=(SCRIPT, "cat", "dog"))
    write_run_report(Path(summary.run_dir))
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    with LocalUi.start(workspace, tmp_path / "ui.log") as ui:
        page.goto(f"{ui.base}/runs")
        with page.expect_navigation(wait_until="load"):
            page.click("a[href$='/report.html']")  # the runs page's link, as a person opens it
        assert page.url == f"{ui.base}/runs/pets/20260101-000000-abcd/report.html"
        response = page.request.get(page.url)
        policy = response.headers["content-security-policy"]
        assert (
            policy == REPORT_POLICY
            and "allow-scripts" not in policy
            and "unsafe-inline" not in policy.split("style-src")[0]
        )
        check_rendered(page, 3)
        assert (
            page.locator("style").count() == 1
            and page.evaluate("getComputedStyle(document.querySelector('table')).borderCollapse") == "collapse"
        )  # the inline style applies
    assert not dialogs and not violations, violations
    screenshot(page, "run-report-served")


@pytest.mark.slow
def test_automl_run_writes_a_report_that_renders(page: Any, tmp_path: Path) -> None:
    source = SHARED_DATA / "penguins" / "penguins.csv"
    if not source.is_file():
        pytest.skip(f"shared datasets not found at {SHARED_DATA}")
    data = pd.read_csv(source)
    data["species"] = data["species"].replace({"Chinstrap": SCRIPT})
    data.to_csv(tmp_path / "penguins.csv", index=False)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "automl", "run", "recipe=penguins", "search=quick"]
    command += [f"data.path={tmp_path / 'penguins.csv'}", f"workspace={tmp_path / 'ws'}"]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    reports = list((tmp_path / "ws" / "runs" / "penguins").glob("*/report.html"))
    assert len(reports) == 1 and f"report: {reports[0]} (" in done.stderr
    dialogs = open_report(page, reports[0])
    check_rendered(page, 3)
    assert not dialogs
    board = pd.read_csv(reports[0].parent / "leaderboard.csv")
    assert page.locator("#leaderboard tr").count() == 1 + len(board) and board["work_s"].notna().sum() == 4
    screenshot(page, "run-report-penguins")
