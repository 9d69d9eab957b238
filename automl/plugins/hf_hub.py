"""Reaching the Hugging Face hub without ever hanging: a bounded reachability probe, and an
offline mode that makes huggingface_hub (under timm and transformers) look only in the local
cache. Shared by the first-party backbone plugins; huggingface_hub is imported only when used."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlparse

PROBE_TIMEOUT_S = 2.0
_TRUE = {"1", "true", "yes", "on"}


def offline_requested() -> bool:
    """True when the environment asks for offline mode (``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE``)."""
    return any(os.environ.get(name, "").strip().lower() in _TRUE for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def hub_host() -> tuple[str, int]:
    """Host and port of the hub (``HF_ENDPOINT`` when set, else huggingface.co:443)."""
    parsed = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    return parsed.hostname or "huggingface.co", parsed.port or (80 if parsed.scheme == "http" else 443)


def hub_reachable(timeout: float = PROBE_TIMEOUT_S) -> bool:
    """A TCP connection to the hub within ``timeout`` seconds, DNS included (run in a thread,
    because name resolution ignores socket timeouts)."""
    host, port = hub_host()
    result: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    worker = threading.Thread(target=probe, name="automl-hub-probe", daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(result and result[0])


def default_cache_dir() -> str:
    """Where huggingface_hub keeps downloads when no ``cache_dir`` is given."""
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


@contextlib.contextmanager
def offline_mode() -> Iterator[None]:
    """Offline mode for the duration of the block: ``HF_HUB_OFFLINE=1`` in the environment and in
    huggingface_hub's constant (read once at its import), both restored afterwards."""
    from huggingface_hub import constants

    saved_env, saved_flag = os.environ.get("HF_HUB_OFFLINE"), constants.HF_HUB_OFFLINE
    os.environ["HF_HUB_OFFLINE"] = "1"
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = saved_flag
        if saved_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = saved_env
