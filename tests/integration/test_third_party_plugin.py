"""A third-party plugin distribution, pip-installed for real, shows up and is usable by a recipe."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import run_cli

pytestmark = pytest.mark.slow

PLUGIN = Path(__file__).resolve().parents[1] / "fixtures" / "automl-example-plugin"


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The example plugin pip-installed into its own folder, put on PYTHONPATH."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(PLUGIN)],
        check=True,
        capture_output=True,
        text=True,
    )
    return {"PYTHONPATH": str(target)}


def test_the_plugin_is_listed_with_its_distribution_and_version(plugin_env: dict[str, str]) -> None:
    proc = run_cli("plugins", "--json", env=plugin_env)
    assert proc.returncode == 0, proc.stderr
    rows = {(r["kind"], r["name"]): r for r in json.loads(proc.stdout)}
    assert rows[("trainer", "gaussian_nb")]["distribution"] == "automl-example-plugin"
    assert rows[("trainer", "gaussian_nb")]["version"] == "0.3.0"
    assert rows[("metric", "brier")]["distribution"] == "automl-example-plugin"


def test_a_recipe_uses_the_plugins_trainer_and_metric(
    plugin_env: dict[str, str], tmp_path: Path, shared_data: Path
) -> None:
    proc = run_cli(
        "run",
        "recipe=penguins",
        "search.trainers=[gaussian_nb]",
        "eval.metric=brier",
        "search.max_trials=2",
        "search.time_budget_s=null",
        "eval.cv_folds=3",
        "--json",
        f"workspace={tmp_path}",
        env=plugin_env,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["metric"] == "brier" and summary["failed_trials"] == 0
    assert "gaussian_nb" in json.dumps(summary["best"])
    assert summary["score"] < 0.6  # uniform guessing over three classes scores 0.667


def test_the_plugins_own_tests_pass_with_the_conformance_suite(plugin_env: dict[str, str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(PLUGIN / "tests")],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, **plugin_env},
        cwd=PLUGIN,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout
