"""Pages in a real browser: Debian's chromium (``scripts/install-browser``), driven by Playwright.

Nothing downloads a browser: Playwright launches the chromium on PATH (or ``AUTOML_CHROMIUM``),
headless, without a sandbox or GPU. Without one the tests skip and say how to install it, except
under CI (``CI`` set), where a missing browser fails them. Screenshots go to ``ARTIFACTS``
(``AUTOML_TEST_ARTIFACTS``, default ``.test-artifacts/`` at the repository's top), kept after the run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("AUTOML_TEST_ARTIFACTS", REPO / ".test-artifacts"))
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]


def chromium_path() -> str | None:
    return os.environ.get("AUTOML_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One chromium per test module: Playwright's sync API runs an event loop in this thread
    while it is open, and a session-wide one would make every later ``asyncio.run`` (the serving
    tests) fail with "Cannot run the event loop while another loop is running"."""
    executable = chromium_path()
    if executable is None:
        message = "no chromium on PATH: run `bash scripts/install-browser` (as root) for the page tests"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: run `bash scripts/install` (it is in the dev extra)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=BROWSER_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page (its own context: no cookies or storage shared between tests); JavaScript
    errors on the page fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda err: errors.append(str(err)))
    opened.set_default_timeout(15_000)
    try:
        yield opened
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def screenshot(page: Any, name: str) -> Path:
    """Keep a full-page screenshot as a test artefact; returns its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
