"""HTML of the pages: the shared layout and navigation, and tables rendered on the server.
Every value from the workspace goes through ``html.escape`` (``esc``) here; the static pages'
script renders with ``textContent`` only."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from starlette.responses import HTMLResponse

from automl.ui.server import PAGES, STATIC


def esc(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def nav(current: str) -> str:
    links = "".join(
        f'<a href="{esc(p.path)}"{" aria-current=page" if p.title == current else ""}>{esc(p.title)}</a>' for p in PAGES
    )
    return f'<nav><b class="brand">automl</b>{links}</nav>'


def _page(title: str, body: str, script: str | None = None) -> HTMLResponse:
    tag = f'<script src="/static/{esc(script)}" defer></script>' if script else ""
    return HTMLResponse(
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f'<title>{esc(title)} · automl</title><link rel=stylesheet href="/static/ui.css">{tag}</head>'
        f"<body>{nav(title)}{body}</body></html>"
    )


def layout(title: str, body: str) -> HTMLResponse:
    return _page(title, f"<main><h1>{esc(title)}</h1>{body}</main>")


def static_page(name: str, title: str) -> HTMLResponse:
    """A page's body shipped in ``static/`` (``NAME.html``), in the layout, with its script
    ``static/NAME.js``."""
    return _page(title, (STATIC / name).read_text(encoding="utf-8"), name.rsplit(".", 1)[0] + ".js")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], empty: str) -> str:
    """A table of already-escaped cells (``esc`` them, or build links with ``link``)."""
    if not rows:
        return f"<p class=empty>{esc(empty)}</p>"
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def link(href: str, text: str) -> str:
    return f'<a href="{esc(href)}">{esc(text)}</a>'
