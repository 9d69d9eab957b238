"""Train from the page: ``automl run`` of a project's generated recipe in a process of its own,
its progress read back from the run's log while it runs; then the project's pool is scored by the
new model so the next items come ordered by the samplers (least confident first, diverse).

Files, all under ``<workspace>/ui/<project>/``: ``recipe.yaml`` (the generated recipe),
``labelled.csv`` (the annotated pool inputs, rewritten from the review store before each run: the
loader's table; the run then lays the same annotations over it), ``train.log`` (the run's stderr).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from automl import durable
from automl.errors import UserError
from automl.registry.meta import IMAGE_TASK
from automl.store.reviews import PENDING, ReviewStore
from automl.ui.projects import Project
from automl.ui.queue import Score

DONE, NOT_PROMOTED = 0, 3
LOG_LINES = 30
SAMPLER = "low_confidence"


def project_dir(workspace: Path, name: str) -> Path:
    return workspace / "ui" / name


def write_training_files(workspace: Path, project: Project) -> Path:
    """The labelled table and the recipe of a project; the recipe's path. A one-line error when
    the labels cannot make a classifier yet."""
    notes = [a for a in ReviewStore(workspace).annotations(project.name) if a.input_json]
    counts = Counter(a.label for a in notes)
    if len(counts) < 2 or min(counts.values()) < 2:
        have = ", ".join(f"{label}: {n}" for label, n in counts.most_common()) or "none"
        raise UserError(f"label at least 2 examples of each of two labels before training (labelled: {have}).")
    folder = project_dir(workspace, project.name)
    folder.mkdir(parents=True, exist_ok=True)
    column = "image" if project.task == IMAGE_TASK else "text"
    table = folder / "labelled.csv"
    with durable.atomic_path(table) as tmp, tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([column, "label"])
        writer.writerows([json.loads(a.input_json or '""'), a.label] for a in notes)
    loader = "image_table" if project.task == IMAGE_TASK else "text_table"
    search: dict[str, Any] = {"time_budget_s": project.time_budget_s}
    if project.trainers:
        search["trainers"] = project.trainers
    recipe = {
        "name": project.name,
        "seed": 0,
        "workspace": str(workspace),
        "task": {"type": project.task},
        "data": {"loader": loader, "path": str(table), f"{column}_column": column, "target": "label"},
        "search": search,
        "eval": {"cv_folds": max(2, min(5, min(counts.values())))},
    }
    path = folder / "recipe.yaml"
    header = f"# Written by automl ui for the project {project.name}: its labels come from the review store.\n"
    durable.write_text(path, header + json.dumps(recipe, indent=2) + "\n")  # JSON is YAML
    return path


class TrainJob:
    """One ``automl run`` of a project: started once, watched by a thread, read by ``status``."""

    def __init__(self, workspace: Path, project: Project, when_done: Any = None) -> None:
        self.workspace, self.project = workspace, project
        self.folder = project_dir(workspace, project.name)
        self.log = self.folder / "train.log"
        self.when_done = when_done
        self.started = time.time()
        self.ended: float | None = None
        self.exit_code: int | None = None
        self.summary: dict[str, Any] | None = None
        self.process: subprocess.Popen[str] | None = None
        self.scored = False  # the pool scored by the new model (the page then reloads its queue)

    def start(self) -> None:
        recipe = write_training_files(self.workspace, self.project)
        command = [sys.executable, "-m", "automl", "run", f"recipe={recipe}", "--json"]
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, text=True,
                start_new_session=True,
            )  # fmt: skip
        threading.Thread(target=self._wait, name=f"train-{self.project.name}", daemon=True).start()

    def _wait(self) -> None:
        assert self.process is not None
        out, _ = self.process.communicate()
        self.exit_code = self.process.returncode
        if self.exit_code in (DONE, NOT_PROMOTED):
            try:
                self.summary = json.loads(out)
            except json.JSONDecodeError:
                self.summary = None
        self.ended = time.time()
        if self.when_done is not None and self.summary is not None:
            self.when_done(self)

    @property
    def running(self) -> bool:
        return self.ended is None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()

    def status(self) -> dict[str, Any]:
        lines = self.log.read_text(errors="replace").splitlines()[-LOG_LINES:] if self.log.is_file() else []
        state = "running" if self.running else "done" if self.summary is not None else "failed"
        out: dict[str, Any] = {
            "state": state,
            "elapsed_s": round((self.ended or time.time()) - self.started, 1),
            "exit_code": self.exit_code,
            "scored": self.scored,
            "log": lines,
        }
        if self.summary is not None:
            model = self.summary.get("model") or {}
            out["result"] = {
                "metric": self.summary.get("metric"),
                "score": self.summary.get("score"),
                "version": model.get("version"),
                "alias": model.get("alias"),
                "run_dir": self.summary.get("run_dir"),
            }
        return out


def score_pool(workspace: Path, name: str) -> dict[str, Score]:
    """The production model's label, confidence and margin for each pending pool item of
    ``name``, ranked as ``automl sample`` picks: by the ``low_confidence`` sampler (least sure
    first), diverse (an item whose embedding is within ``monitor.min_distance`` of one ranked
    before it goes after the others); the sampler's reason is what the page shows."""
    import numpy as np
    import pandas as pd

    from automl.config.schema import MonitorConfig
    from automl.loop.sampling import diverse_order
    from automl.model.predictor import load
    from automl.plugins.manager import get_plugins

    items = [i for i in ReviewStore(workspace).items(name, PENDING) if i.version == 0 and i.input_json]
    if not items:
        return {}
    predictor = load(name, workspace)
    version = int(predictor.meta.version)
    inputs = [json.loads(i.input_json or '""') for i in items]
    probabilities, vectors = predictor.predict_proba_and_embedding(inputs)
    proba = np.asarray(probabilities, dtype=float)
    ranked = -np.sort(-proba, axis=1)
    decided = predictor.decide(proba)  # the tuned threshold's class, not always the likeliest
    frame = pd.DataFrame(
        {
            "label": np.asarray(predictor.classes, dtype=object)[decided],
            "confidence": proba[np.arange(len(proba)), decided],  # how sure of the label shown
            "margin": ranked[:, 0] - (ranked[:, 1] if proba.shape[1] > 1 else 0.0),
            "embedding": [None] * len(items) if vectors is None else [np.asarray(v, dtype=float) for v in vectors],
            "flag": [None] * len(items),
        }
    )
    spec = get_plugins().registries["sampler"].get(SAMPLER)
    sampler = spec.factory(spec.config_cls())
    order = diverse_order(frame, SAMPLER, sampler, np.asarray(sampler.score(frame, None)), MonitorConfig().min_distance)
    rows = frame.to_dict("records")
    return {
        items[i].content_id: Score(
            str(rows[i]["label"]),
            float(rows[i]["confidence"]),
            float(rows[i]["margin"]),
            SAMPLER,
            reason,
            version,
            rank,
        )
        for rank, (i, reason) in enumerate(order)
    }
