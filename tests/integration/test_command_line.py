"""What needs a process of its own: the real command line as a user runs it (``python -m
automl ...``; the in-process tests of each command are in tests/unit/cli/), what a fresh
interpreter imports, and the import contracts (``lint-imports``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from automl.registry.store import ModelStore
from tests.unit.cli.test_model_promotion import dogs  # noqa: F401 - a fixture
from tests.unit.store.test_gc import ages, logged  # noqa: F401 - a fixture

pytestmark = pytest.mark.process
ROOT = Path(__file__).resolve().parents[2]


def automl(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "automl", *args], capture_output=True, text=True, cwd=cwd)


def test_help_and_plugins_import_nothing_heavy() -> None:
    code = (
        "import sys; from automl.cli import main; main(['--help']); main(['plugins']);"
        "heavy = [m for m in ('torch', 'ray', 'sklearn', 'pandas', 'litserve', 'hydra') if m in sys.modules];"
        "print('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out


def test_plugins_json_lists_kind_name_distribution_version() -> None:
    proc = automl("plugins", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert {"kind", "name", "distribution", "version"} <= set(rows[0])
    assert {"kind": "trainer", "name": "random_forest"}.items() <= next(
        r for r in rows if r["name"] == "random_forest"
    ).items()


def test_models_promote_and_rollback(dogs: ModelStore, workspace: Path) -> None:  # noqa: F811
    def models(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "automl", "models", *args, f"workspace={workspace}"], capture_output=True, text=True
        )

    done = models("promote", "model=dog_classifier:3", "canary=10")
    assert (done.returncode, done.stdout) == (
        0,
        "dog_classifier: version 3 gets 10% of traffic (canary); production stays 1\n",
    )
    done = models("promote", "model=dog_classifier:3", "canary=150")
    assert done.returncode == 2 and done.stderr.startswith("error: canary=150:") and done.stderr.count("\n") == 1
    done = models("promote", "model=dog_classifier:3", "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["after"] == {"production": 3, "candidate": None}
    assert models("rollback", "model=dog_classifier").returncode == 0
    assert models("rollback", "model=dog_classifier").returncode == 2
    state = json.loads((workspace / "models" / "dog_classifier" / "rollout.json").read_text())
    assert (state["production"], state["candidate"]) == (1, None)
    assert [(c["version"], c["how"]) for c in state["history"]] == [(1, "run"), (3, "promote"), (1, "rollback")]


def test_automl_gc_as_a_command(logged: Path) -> None:  # noqa: F811
    done = subprocess.run(
        [sys.executable, "-m", "automl", "gc", f"workspace={logged}", "model=a"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].endswith("deleted 1 invokes, 1 input files")
    assert ages(logged, "a") == [1]


def test_importing_the_api_pulls_no_runtime() -> None:
    code = (
        "import sys, automl.plugins.api; "
        "heavy = [m for m in ('sklearn', 'pandas', 'torch', 'ray', 'automl.features', 'automl.model') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_import_contracts_hold() -> None:
    """The rooms' import direction (pyproject.toml [tool.importlinter]); `make lint` runs it too."""
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout
