"""The nightly workflow in docs/ci/ fails only on a real failure: its loop step, run by bash with
an ``automl`` that exits each code, passes on 0, 3 and 4 and fails on 1 and 2."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "docs" / "ci" / "nightly-loop.yml"


def loop_step() -> str:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps = workflow["jobs"]["loop"]["steps"]
    (step,) = [s for s in steps if s.get("name") == "One pass of the loop"]
    assert "automl loop recipe=" in step["run"]
    return str(step["run"])


def test_the_workflow_runs_nightly_and_installs_with_the_readme_command() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert workflow[True]["schedule"][0]["cron"]  # YAML reads the key `on` as True
    assert any(s.get("run") == "bash scripts/install" for s in workflow["jobs"]["loop"]["steps"])


@pytest.mark.parametrize(("code", "fails"), [(0, False), (3, False), (4, False), (1, True), (2, True)])
def test_the_loop_step_fails_only_on_a_real_failure(tmp_path: Path, code: int, fails: bool) -> None:
    venv = tmp_path / ".venv" / "bin"
    venv.mkdir(parents=True)
    stub = venv / "automl"
    stub.write_text(f"#!/bin/sh\necho '{{\"exit_code\": {code}}}'\nexit {code}\n")
    stub.chmod(0o755)
    done = subprocess.run(
        ["bash", "-e", "-c", loop_step()],
        cwd=tmp_path,
        env={**os.environ, "RECIPE": "spam_filter"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (done.returncode != 0) == fails, done.stdout + done.stderr
    assert (tmp_path / "loop.json").read_text().strip() == f'{{"exit_code": {code}}}'
