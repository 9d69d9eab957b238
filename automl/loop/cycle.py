"""``automl loop``: one pass of the ML loop for CI and schedulers, or a watcher beside the server.

A pass: monitor production's recent invokes for drift, send a batch of them to the review queue,
and retrain when a trigger of the recipe's ``loop.retrain_on`` holds: new reviewed labels
(``annotations``, at least ``loop.min_annotations`` since the last run), changed data (``data``:
the examples, reviewed labels included, hash differently from the last run's), drift (``drift``),
or ``always``. The run (``automl run`` of the resolved recipe, in a process of its own) tests,
gates and starts the rollout. Exit codes:
0 done (promoted, or nothing to do), 3 retrained but not promoted, 4 drift without a retrain.

``watch=true`` repeats the cheap checks (new reviewed labels; the data folder's names, sizes and
times) every ``loop.interval_s`` and monitors and samples every ``loop.monitor_interval_s``; a
SIGTERM or Ctrl-C stops it between steps (a run in progress ends first). A step that crashes
leaves the registry as the last completed write left it (every registry write is one atomic
replace under the model's lock).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from automl.config.schema import Recipe
from automl.durable import write_text
from automl.errors import AutomlError, UserError
from automl.paths import workspace_dir
from automl.registry.store import ModelStore
from automl.search.retrain import last_run
from automl.store.reviews import ReviewStore

DONE, NOT_PROMOTED, DRIFT = 0, 3, 4


@dataclass
class PassReport:
    """What one pass did, in order; ``exit_code`` as the module's docstring says."""

    model: str
    drift: bool | None = None  # None: not monitored (no production, or too few invokes)
    monitor_notes: list[str] = field(default_factory=list)
    sampled: int = 0
    triggers: list[str] = field(default_factory=list)
    run: dict[str, Any] | None = None  # the run's model line and gate, when it retrained
    exit_code: int = DONE

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        monitored = {None: "not monitored", True: "drift", False: "no drift"}[self.drift]
        parts = [f"{self.model}: {monitored}", f"{self.sampled} sent for review"]
        if not self.run:
            parts.append("no retrain (no trigger)")
        else:
            model = self.run["model"]
            how = "rollout started" if model["rollout"] else model["alias"]
            parts.append(f"retrained ({', '.join(self.triggers)}): v{model['version']} {how}: {model['reason']}")
        return "; ".join(parts)


def _started(run_dir: Path) -> datetime:
    """When a run began: its folder's recipe is written first."""
    return datetime.fromtimestamp((run_dir / "recipe.yaml").stat().st_mtime, timezone.utc).replace(tzinfo=None)


def new_annotations(workspace: Path, name: str, since: datetime | None) -> int:
    """Reviewed labels of ``name`` given after ``since`` (all of them when None)."""
    annotations = ReviewStore(workspace).annotations(name)
    return sum(1 for a in annotations if since is None or a.annotated_at > since)


def data_fingerprint(path: str | None) -> str | None:
    """The data's names, sizes and modification times: cheap to take, changes when a file does."""
    if not path or not os.path.exists(path):
        return None
    root = Path(path)
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    stats = [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    return json.dumps(stats)


def data_changed(recipe: Recipe, workspace: Path, run_dir: Path) -> bool:
    """The examples (reviewed labels included) hash differently from the last run's."""
    from automl.config.validate import check_recipe
    from automl.plugins.manager import get_plugins
    from automl.train.runner import load_training_table

    plugins = get_plugins()
    table = load_training_table(check_recipe(recipe, plugins), plugins, workspace)
    summary = json.loads((run_dir / "summary.json").read_text())
    return bool(table.content_hash != summary.get("data", {}).get("content_hash"))


class Loop:
    """The loop of one recipe; ``run_pass`` once, or ``watch`` until ``stop`` is set."""

    def __init__(self, recipe: Recipe, log: TextIO, force: bool = False) -> None:
        self.recipe = recipe
        self.log = log
        self.force = force
        self.workspace = workspace_dir(recipe.workspace)
        self.name = recipe.name
        self.stop = threading.Event()
        self._fingerprint: str | None = None

    # --- steps ------------------------------------------------------------------------------

    def monitor(self, report: PassReport) -> None:
        from automl.loop.monitor import monitor
        from automl.plugins.manager import get_plugins

        try:
            drift = monitor(self.workspace, self.name, get_plugins())
        except UserError as err:
            report.monitor_notes.append(str(err))
            return
        report.monitor_notes.extend(drift.notes)
        report.drift = bool(drift.drifted) if drift.checks else None

    def sample(self, report: PassReport) -> None:
        from automl.loop.sampling import sample
        from automl.plugins.manager import get_plugins

        try:
            report.sampled = len(sample(self.workspace, self.name, get_plugins()).picked)
        except UserError as err:
            report.monitor_notes.append(str(err))

    def triggers(self, report: PassReport, check_data: bool = True) -> list[str]:
        """The recipe's retrain triggers that hold now."""
        wanted = set(self.recipe.loop.retrain_on)
        previous = last_run(self.workspace, self.name)
        if previous is None:
            return ["no model yet"]
        held = []
        if self.force or "always" in wanted:
            held.append("always")
        if "annotations" in wanted:
            fresh = new_annotations(self.workspace, self.name, _started(previous))
            if fresh >= self.recipe.loop.min_annotations:
                held.append(f"annotations ({fresh} new)")
        if "drift" in wanted and report.drift:
            held.append("drift")
        if "data" in wanted and check_data and not held and data_changed(self.recipe, self.workspace, previous):
            held.append("data")
        return held

    def retrain(self, report: PassReport) -> None:
        """``automl run`` of the resolved recipe in a process of its own: Ray, the memory a run
        takes and the signal handlers it installs go with it, and a SIGTERM to the loop waits
        for the run to end instead of killing it."""
        from automl.config.compose import recipe_to_yaml

        folder = self.workspace / "loop"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.name}.yaml"
        write_text(path, recipe_to_yaml(self.recipe))
        command = [sys.executable, "-m", "automl", "run", f"recipe={path}", "--json"]
        # A session of its own: Ctrl-C in the terminal (the whole process group) stops the loop
        # after the run, not the run.
        done = subprocess.run(
            command, stdout=subprocess.PIPE, stderr=self.log, text=True, check=False, start_new_session=True
        )
        if done.returncode not in (DONE, NOT_PROMOTED):
            error = UserError if done.returncode == 2 else AutomlError
            raise error(f"the retrain of {self.name} failed (exit {done.returncode}); its error is above")
        summary = json.loads(done.stdout)
        report.run = {"model": summary["model"], "gate": summary["gate"], "run_dir": summary["run_dir"]}
        promoted = summary["model"]["alias"] == "production" or summary["model"]["rollout"]
        report.exit_code = DONE if promoted else NOT_PROMOTED

    # --- a pass, and the watcher -------------------------------------------------------------

    def run_pass(self, monitor: bool = True, check_data: bool = True) -> PassReport:
        report = PassReport(self.name)
        has_production = ModelStore(self.workspace).rollout(self.name).production is not None
        for step in (self.monitor, self.sample) if monitor and has_production else ():
            if self.stop.is_set():
                return report
            if step == self.sample and not self.recipe.loop.sample:
                continue
            step(report)
        if self.stop.is_set():
            return report
        report.triggers = self.triggers(report, check_data)
        if report.triggers:
            self.retrain(report)
        elif report.drift:
            report.exit_code = DRIFT
        return report

    def watch(self, say: Callable[[PassReport], None]) -> None:
        """Passes until ``stop``: the cheap checks every ``loop.interval_s``; monitoring and
        sampling every ``loop.monitor_interval_s``; the data hashed again only when the data
        folder's fingerprint moved."""
        cfg = self.recipe.loop
        next_monitor = 0.0
        failures = 0
        while not self.stop.is_set():
            now = time.monotonic()
            fingerprint = data_fingerprint(self.recipe.data.path)
            try:
                report = self.run_pass(monitor=now >= next_monitor, check_data=fingerprint != self._fingerprint)
            except Exception as err:  # noqa: BLE001 - a failed pass is reported; the watcher goes on
                failures += 1
                print(f"loop: {self.name}: {type(err).__name__}: {err}", file=self.log, flush=True)
            else:
                failures = 0
                self._fingerprint = fingerprint  # the data is checked again after a failed pass
                if now >= next_monitor:
                    next_monitor = now + cfg.monitor_interval_s
                if report.run or report.drift or report.sampled:
                    say(report)
            # After failures, wait longer (up to 64 intervals): a trigger that keeps failing is not retried hot.
            self.stop.wait(cfg.interval_s * 2 ** min(failures, 6))
