"""Start (or join) Ray for a run, quietly, and stop it afterwards only if this run started it."""

from __future__ import annotations

import logging
import os
import threading
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


def warm_driver() -> None:
    """Import what the search needs in the driver (Ray Tune, scikit-learn) while it waits on other
    work: done once, in the critical path it takes seconds."""
    import sklearn.metrics  # noqa: F401
    from ray import tune  # noqa: F401
    from ray.tune.schedulers import ASHAScheduler  # noqa: F401


_stopping: list[threading.Thread] = []


def wait_for_ray_stop() -> None:
    """Block until a Ray that a session stopped in the background is down."""
    while _stopping:
        _stopping.pop().join()


@contextmanager
def ray_session(cfg: RayConfig, stop_in_background: bool = False) -> Iterator[float]:
    """Yields the seconds Ray took to start (0 when it was already running in this process).

    With ``stop_in_background`` a Ray this session started is shut down in a helper thread (it takes
    a second or more) while the caller goes on; :func:`wait_for_ray_stop` waits for it, and the next
    session does so before it starts.
    """
    wait_for_ray_stop()
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
        if stop_in_background:
            stopper = threading.Thread(target=ray.shutdown, name="automl-ray-stop")
            stopper.start()
            _stopping.append(stopper)
        else:
            ray.shutdown()
