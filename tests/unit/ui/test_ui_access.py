"""Signing in to the pages: the key form once the one-time link is spent, sessions that end on
the server, and the loopback rule for every loopback address."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from automl.ui.access import COOKIE, SESSION_S, Access
from automl.ui.server import UiContext, create_app

KEY = "k" * 32


def app_client(workspace: Path, access: Access, base: str) -> TestClient:
    return TestClient(create_app(UiContext(workspace, access)), base_url=base)


def test_the_key_form_signs_in_after_the_link_is_spent(workspace: Path) -> None:
    access = Access.for_host("0.0.0.0", KEY)
    c = app_client(workspace, access, "http://10.0.0.5:8765")
    assert c.get(f"/login?token={access.login_token}", follow_redirects=False).status_code == 303  # spent now
    other = app_client(workspace, access, "http://10.0.0.5:8765")
    page = other.get("/review", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login"  # a page sends a browser to sign in
    assert other.get("/api/queue?model=x").status_code == 401  # the API says why
    form = other.get("/login")
    assert form.status_code == 200 and "<form" in form.text and "name=key type=password" in form.text
    assert "<script" not in form.text
    wrong = other.post("/login", data={"key": "x" * 32}, follow_redirects=False)
    assert (
        wrong.status_code == 403
        and "The key is wrong" in wrong.text
        and COOKIE not in wrong.headers.get("set-cookie", "")
    )
    signed = other.post("/login", data={"key": KEY}, follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == "/review"
    assert f"max-age={SESSION_S}" in signed.headers["set-cookie"].lower()
    assert other.get("/review").status_code == 200
    assert other.post("/login", json={"key": KEY}, follow_redirects=False).status_code == 303  # the review page's


def test_a_spent_link_shows_the_form(workspace: Path) -> None:
    access = Access.for_host("127.0.0.1", KEY)
    c = app_client(workspace, access, "http://127.0.0.1")
    assert c.get(f"/login?token={access.login_token}", follow_redirects=False).status_code == 303
    again = c.get(f"/login?token={access.login_token}")
    assert again.status_code == 403 and "sign in with the key" in again.text and "name=key" in again.text


def test_sessions_end_on_the_server(workspace: Path) -> None:
    now = [1000.0]
    access = Access.for_host("127.0.0.1", KEY)
    access.clock = lambda: now[0]
    session = access.open_session()
    assert access.has_session(session) and access.write_refusal({}, {COOKIE: session}) is None
    now[0] += SESSION_S - 1
    assert access.has_session(session)
    now[0] += 2
    assert not access.has_session(session) and access.write_refusal({}, {COOKIE: session}) is not None
    assert session not in access.sessions  # forgotten, not only refused
    old = access.open_session()
    now[0] += SESSION_S + 1
    access.open_session()
    assert old not in access.sessions  # a new session sweeps the ended ones
    assert SESSION_S == 12 * 3600


@pytest.mark.parametrize("host", ["127.0.0.2", "127.1.2.3", "localhost", "[::1]", "127.0.0.1"])
def test_every_loopback_address_is_served_when_bound_to_loopback(workspace: Path, host: str) -> None:
    access = Access.for_host("127.0.0.2", KEY)
    assert access.loopback
    assert app_client(workspace, access, f"http://{host}:8765").get("/models").status_code == 200


def test_a_foreign_host_is_refused_when_bound_to_loopback(workspace: Path) -> None:
    access = Access.for_host("127.0.0.2", KEY)
    refused = app_client(workspace, access, "http://rebound.example:8765").get("/models")
    assert refused.status_code == 403 and "loopback" in refused.json()["error"]
