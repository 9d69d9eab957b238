"""Start (or join) Ray for a run, quietly, and stop it afterwards only if this run started it."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from automl.config.schema import RayConfig
from automl.errors import UserError

# Ray Tune's own console tables would interleave with our progress line.
QUIET_ENV = {
    "RAY_AIR_NEW_OUTPUT": "0",
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    "RAY_DEDUP_LOGS": "0",
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0",
}


def _check_reachable(address: str) -> None:
    """Fail in seconds, not minutes, when nothing listens at ``host:port``."""
    import socket

    host, _, port = address.rpartition(":")
    if address == "auto" or not port.isdigit():
        return
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=3).close()
    except OSError as err:
        raise UserError(
            f"ray.address={address}: nothing answers there ({err}); start the cluster with `ray start --head`."
        ) from None


@contextmanager
def ray_session(cfg: RayConfig) -> Iterator[float]:
    """Yields the seconds Ray took to start (0 when it was already running in this process)."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    import ray

    logging.getLogger("ray").setLevel(logging.ERROR)
    # A failed trial is reported by automl itself (progress line, leaderboard, summary); Tune's
    # own log would print its whole traceback on the terminal.
    logging.getLogger("ray.tune").setLevel(logging.CRITICAL)
    if ray.is_initialized():
        yield 0.0
        return
    started = time.perf_counter()
    try:
        if cfg.address:
            _check_reachable(cfg.address)
            ray.init(address=cfg.address, log_to_driver=False, logging_level=logging.ERROR)
        else:
            ray.init(
                address="local",  # a new Ray for this run, even if `ray start` left one running
                num_cpus=cfg.num_cpus,
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.ERROR,
            )
    except ConnectionError as err:
        raise UserError(f"ray.address={cfg.address}: cannot connect to a Ray cluster there ({err}).") from None
    try:
        yield time.perf_counter() - started
    finally:
        ray.shutdown()
