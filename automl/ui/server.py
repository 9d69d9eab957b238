"""The Starlette app of ``automl ui`` and its server.

``PAGES`` is the navigation: each page names the module whose ``routes(ctx)`` serves it. To add
a page, write a module with ``routes(ctx: UiContext) -> list[BaseRoute]`` and add its ``Page``
here. Every response carries a strict Content-Security-Policy (scripts only from ``/static``, no
inline script), and the access rules of ``automl.ui.access`` hold for every route.
"""

from __future__ import annotations

import importlib
import socket
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from automl.errors import UserError
from automl.store.reviews import Conflict
from automl.ui.access import COOKIE, SESSION_S, Access, is_loopback
from automl.ui.queue import Score

STATIC = Path(__file__).parent / "static"
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
READS = ("GET", "HEAD")


@dataclass(frozen=True)
class Page:
    path: str
    title: str
    module: str  # whose routes(ctx) serve it


PAGES = [
    Page("/review", "Review", "automl.ui.review_routes"),
    Page("/models", "Models", "automl.ui.catalog"),
    Page("/runs", "Runs", "automl.ui.catalog"),
    Page("/explorer", "Explorer", "automl.ui.explorer"),
    Page("/monitoring", "Monitoring", "automl.ui.monitoring"),
]


@dataclass
class UiContext:
    """What every route reads: the workspace, the access rules, training jobs and pool scores."""

    workspace: Path
    access: Access
    reviewer: str | None = None
    jobs: dict[str, Any] = field(default_factory=dict)  # project -> TrainJob
    scores: dict[str, dict[str, Score]] = field(default_factory=dict)  # project -> content id -> Score
    lock: threading.Lock = field(default_factory=threading.Lock)


def error(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status)


class Guard(BaseHTTPMiddleware):
    """Access rules, then the security headers on every response."""

    def __init__(self, app: Any, ctx: UiContext) -> None:
        super().__init__(app)
        self.ctx = ctx

    async def dispatch(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        refusal = self.refusal(request)
        response = refusal if refusal is not None else await call_next(request)
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)  # a route may set its own (a run's report)
        return response

    def refusal(self, request: Request) -> Response | None:
        access = self.ctx.access
        host = (request.headers.get("host") or "").rsplit(":", 1)[0]
        if access.loopback and not is_loopback(host):
            return error(403, f"host {host!r} refused: the pages answer on a loopback address only")
        path = request.url.path
        if path.startswith("/static/") or path == "/login":
            return None
        headers, cookies = dict(request.headers), request.cookies
        if request.method in READS:
            reason = access.read_refusal(headers, cookies)
            if reason is not None and not path.startswith("/api/"):
                return RedirectResponse("/login", status_code=303)  # a page: its sign-in form
            return None if reason is None else error(401, reason)
        origin = request.headers.get("origin")
        if origin and origin.split("://", 1)[-1] != request.headers.get("host"):
            return error(403, f"a write from another site ({origin}) is refused")
        reason = access.write_refusal(headers, cookies)
        return None if reason is None else error(401 if "needs" in reason else 403, reason)


LOGIN_FORM = (
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>Sign in · automl</title>"
    '<link rel=stylesheet href="/static/ui.css"></head><body><main><h1>Sign in</h1>{said}'
    "<form class=bar method=post action=/login><label>Key <input name=key type=password autocomplete=off "
    "required></label><button type=submit>Sign in</button></form></main></body></html>"
)


def login_form(said: str = "", status: int = 200) -> HTMLResponse:
    """The sign-in form: it posts the key to ``/login`` (no script)."""
    return HTMLResponse(LOGIN_FORM.format(said=f"<p class=why>{escape(said)}</p>" if said else ""), status)


async def login(request: Request) -> Response:
    """``GET /login?token=``: the one-time link; ``GET /login``: the sign-in form; ``POST /login``
    with the key (``{"key": KEY}``, or the form's ``key=``). Each opens a session cookie and goes to
    the review page."""
    access: Access = request.app.state.ctx.access
    if request.method == "POST":
        form = "application/x-www-form-urlencoded" in request.headers.get("content-type", "")
        if form:
            key: Any = parse_qs((await request.body()).decode("utf-8", "replace")).get("key", [""])[0]
        else:
            key = (await json_body(request)).get("key")
        session = access.open_session() if isinstance(key, str) and access.key_matches(key) else None
        if session is None:
            return login_form("The key is wrong.", 403) if form else error(403, "the key is wrong")
    elif "token" not in request.query_params:
        return login_form()
    else:
        session = access.use_login_token(request.query_params.get("token"))
        if session is None:
            return login_form("This login link was used already or is wrong: sign in with the key.", 403)
    response = RedirectResponse("/review", status_code=303)
    response.set_cookie(COOKIE, session, max_age=SESSION_S, httponly=True, samesite="strict", path="/")
    return response


async def json_body(request: Request) -> dict[str, Any]:
    """A request's JSON object body; a one-line 400 otherwise."""
    try:
        body = await request.json()
    except ValueError:
        raise UserError("the body is not JSON") from None
    if not isinstance(body, dict):
        raise UserError("the body is not a JSON object")
    return body


def _user_error(request: Request, exc: Exception) -> Response:
    return error(409 if isinstance(exc, Conflict) else 400, str(exc))


def create_app(ctx: UiContext) -> Starlette:
    routes: list[BaseRoute] = [
        Route("/", lambda request: RedirectResponse("/review"), methods=["GET"]),
        Route("/login", login, methods=["GET", "POST"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    for module in dict.fromkeys(p.module for p in PAGES):
        routes += importlib.import_module(module).routes(ctx)
    app = Starlette(
        routes=routes,
        middleware=[Middleware(Guard, ctx=ctx)],
        exception_handlers={UserError: _user_error},
    )
    app.state.ctx = ctx
    return app


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: a free one), so the address printed is the one served."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise UserError(f"cannot listen on {host}:{port} ({err.strerror}); choose another port=.") from None
    sock.listen(128)
    return sock


def run_server(app: Starlette, sock: socket.socket) -> None:
    """Serve until SIGTERM or Ctrl-C (uvicorn's handlers: it finishes the requests in flight)."""
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[sock])
