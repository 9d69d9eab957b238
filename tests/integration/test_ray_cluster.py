"""A recipe runs on an existing Ray cluster (a head and a worker node, started with `ray start`)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import run_cli

pytestmark = pytest.mark.slow

# Ray's token authentication would need the token shared between the nodes and the client; this
# throwaway cluster listens on loopback only.
CLUSTER_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ray_start(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`ray start ... --block`: the node lives as long as this process, so the test can stop
    exactly this cluster (``ray stop`` would stop every Ray on the machine)."""
    ray = shutil.which("ray", path=os.path.dirname(os.sys.executable)) or "ray"
    return subprocess.Popen(
        [ray, "start", *args, "--block"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    address = f"127.0.0.1:{port}"
    env = {**os.environ, **CLUSTER_ENV}
    head = _ray_start(
        "--head", f"--port={port}", "--num-cpus=1", "--include-dashboard=false", "--node-ip-address=127.0.0.1", env=env
    )
    procs = [head]
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("the Ray head did not start within 60 s")
        procs.append(_ray_start(f"--address={address}", "--num-cpus=1", "--node-ip-address=127.0.0.1", env=env))
        time.sleep(5)
        yield address
    finally:
        for proc in reversed(procs):
            os.killpg(proc.pid, 15)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)


def test_a_recipe_runs_on_an_existing_cluster(cluster: str, tmp_path: Path, shared_data: Path) -> None:
    proc = run_cli(
        "run",
        "recipe=penguins",
        f"ray.address={cluster}",
        "search.max_trials=4",
        "search.time_budget_s=null",
        "eval.cv_folds=3",
        "--json",
        f"workspace={tmp_path}",
        env=CLUSTER_ENV,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["trials"] == 4 and summary["failed_trials"] == 0
    assert summary["timing"]["ray_start_s"] < 30


def test_an_unreachable_cluster_is_a_quick_user_error(tmp_path: Path, shared_data: Path) -> None:
    started = time.time()
    proc = run_cli("run", "recipe=penguins", f"ray.address=127.0.0.1:{_free_port()}", f"workspace={tmp_path}")
    assert proc.returncode == 2 and "nothing answers there" in proc.stderr
    assert time.time() - started < 30
