"""Who may do what on the pages.

Reads on loopback are open; bound anywhere else, every page needs the key too. A write (any
POST) needs the key: in an ``Authorization: Bearer KEY`` or ``X-Automl-Key`` header, or a session
cookie (HttpOnly, SameSite=Strict) that the one-time login link printed at start opened, or that
``POST /login`` with the key opened (``GET /login`` serves the form that posts it). A session ends
``SESSION_S`` after it opened, on the server as on the cookie. The key is ``$AUTOML_UI_KEY`` when set (required to bind
elsewhere than loopback), else made at each start and never written anywhere.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

KEY_ENV = "AUTOML_UI_KEY"
COOKIE = "automl_ui_session"
SESSION_S = 12 * 3600
MIN_KEY = 16


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class Access:
    key: str
    loopback: bool
    login_token: str | None = field(default_factory=lambda: secrets.token_urlsafe(24))
    sessions: dict[str, float] = field(default_factory=dict)  # session -> when it ends (``clock``)
    lock: threading.Lock = field(default_factory=threading.Lock)
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def for_host(cls, host: str, key: str | None = None) -> Access:
        """The key from ``key`` or ``$AUTOML_UI_KEY``; a fresh one on loopback without either.
        A ``ValueError`` (one line) when binding elsewhere without a key, or with a short one."""
        key = key or os.environ.get(KEY_ENV) or None
        loopback = is_loopback(host)
        if key is None and not loopback:
            raise ValueError(
                f"host={host} is not loopback: set {KEY_ENV} to a key of at least {MIN_KEY} characters first "
                "(every page then needs it)."
            )
        if key is not None and len(key) < MIN_KEY:
            raise ValueError(f"{KEY_ENV} is too short: use at least {MIN_KEY} characters.")
        return cls(key or secrets.token_urlsafe(32), loopback)

    def key_matches(self, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(str(presented).encode(), self.key.encode())

    def open_session(self) -> str:
        session = secrets.token_urlsafe(32)
        with self.lock:
            now = self.clock()
            self.sessions = {s: end for s, end in self.sessions.items() if end > now}  # the ended ones go
            self.sessions[session] = now + SESSION_S
        return session

    def use_login_token(self, token: str | None) -> str | None:
        """A new session for the one-time token (then spent), else None."""
        with self.lock:
            good = (
                self.login_token is not None
                and bool(token)
                and hmac.compare_digest(str(token).encode(), self.login_token.encode())
            )
            if good:
                self.login_token = None
        return self.open_session() if good else None

    def has_session(self, session: str | None) -> bool:
        """Whether ``session`` was opened here and has not ended (``SESSION_S``)."""
        if not session:
            return False
        with self.lock:
            end = self.sessions.get(session)
            if end is not None and end <= self.clock():
                del self.sessions[session]
                end = None
            return end is not None

    def write_refusal(self, headers: dict[str, str], cookies: dict[str, str]) -> str | None:
        """Why a request may not write (None: it may)."""
        bearer = headers.get("authorization", "")
        presented = bearer[7:].strip() if bearer.lower().startswith("bearer ") else headers.get("x-automl-key")
        if presented is not None:
            return None if self.key_matches(presented) else "the key is wrong"
        if self.has_session(cookies.get(COOKIE)):
            return None
        return "writing needs the key: open the login link automl ui printed, or send Authorization: Bearer KEY"

    def read_refusal(self, headers: dict[str, str], cookies: dict[str, str]) -> str | None:
        return None if self.loopback else self.write_refusal(headers, cookies)
