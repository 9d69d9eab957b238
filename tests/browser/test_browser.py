"""The browser the page tests use starts and runs a page's script (the harness itself)."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import screenshot


def test_chromium_runs_a_page_script_and_escapes_text(page: Any) -> None:
    page.set_content(
        "<main><h1 id=title></h1></main>"
        "<script>document.getElementById('title').textContent = '<script>alert(1)</' + 'script>'</script>"
    )
    assert page.text_content("#title") == "<script>alert(1)</script>"
    assert page.locator("#title script").count() == 0
    assert screenshot(page, "browser-harness").stat().st_size > 0
