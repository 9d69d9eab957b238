"""A recipe runs on an existing Ray cluster (a head and a worker node, started with `ray start`)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import wait_for
from tests.integration.conftest import run_cli

pytestmark = pytest.mark.slow

# Ray's token authentication would need the token shared between the nodes and the client; this
# throwaway cluster listens on loopback only.
CLUSTER_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ray_cli() -> str:
    return shutil.which("ray", path=os.path.dirname(os.sys.executable)) or "ray"


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _alive_nodes(address: str, env: dict[str, str]) -> int:
    """Nodes ``ray status`` counts as active (it asks the head's GCS; no dashboard needed)."""
    done = subprocess.run(
        [_ray_cli(), "status", f"--address={address}"], env=env, capture_output=True, text=True, timeout=60
    )
    active = done.stdout.partition("Active:")[2].partition("Pending:")[0]
    return sum(line.strip().startswith("1 node_") for line in active.splitlines())


def _ray_start(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`ray start ... --block`: the node lives as long as this process, so the test can stop
    exactly this cluster (``ray stop`` would stop every Ray on the machine)."""
    return subprocess.Popen(
        [_ray_cli(), "start", *args, "--block"],
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
        wait_for(lambda: _accepts(port), timeout=120, interval=0.5, what=f"the Ray head to listen on {address}")
        procs.append(_ray_start(f"--address={address}", "--num-cpus=1", "--node-ip-address=127.0.0.1", env=env))
        # the run must see both nodes, not start while the worker is still joining
        wait_for(
            lambda: _alive_nodes(address, env) == 2, timeout=120, interval=1, what="the worker node to join the head"
        )
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
    address = f"ray.address=127.0.0.1:{_free_port()}"
    proc = run_cli("run", "recipe=penguins", address, f"workspace={tmp_path}", timeout=120)
    # "nothing answers there" comes from the TCP check made before ray.init: the run did not go on to
    # wait out Ray's own retries (minutes), whatever the wall clock of this shared machine says
    assert proc.returncode == 2 and "nothing answers there" in proc.stderr
