"""The models page (every version, its score and aliases, from the registry) and the runs page
(each recipe's runs from their ``summary.json``, with a link to the run's ``report.html`` where
``automl run`` wrote one)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from automl.registry.store import ModelStore
from automl.ui.html import esc, layout, link, table
from automl.ui.server import UiContext, error

_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
REPORT = "report.html"
# A run's report is a self-contained page with no script: its inline style and its data: images,
# nothing else, sandboxed (an origin of its own, no script, no form).
REPORT_POLICY = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'"


def _score(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else "-"


def model_rows(workspace: Path) -> list[list[str]]:
    store = ModelStore(workspace)
    rows = []
    for name in store.names():
        aliases = store.aliases(name)
        for version in sorted(store.versions(name), reverse=True):
            meta = store.meta(name, version)
            named = ", ".join(a for a, v in sorted(aliases.items()) if v == version) or "-"
            best = " + ".join(x for x in (meta.best.trainer, meta.best.backbone) if x) or "-"
            rows.append(
                [
                    esc(name),
                    esc(version),
                    esc(named),
                    esc(meta.metric or "-"),
                    esc(_score(meta.score)),
                    esc(best),
                    esc(", ".join(meta.classes)),
                    esc(meta.created or "-"),
                ]  # fmt: skip
            )
    return rows


def run_dirs(workspace: Path) -> list[Path]:
    """Every run folder with a summary, newest first."""
    found = (workspace / "runs").glob("*/*/summary.json")
    return sorted((p.parent for p in found), key=lambda d: d.name, reverse=True)


def run_rows(workspace: Path) -> list[list[str]]:
    rows = []
    for run in run_dirs(workspace):
        try:
            summary = json.loads((run / "summary.json").read_text())
        except (OSError, json.JSONDecodeError):
            continue
        model = summary.get("model") or {}
        best = summary.get("best") or {}
        winner = " + ".join(str(x) for x in (best.get("trainer"), best.get("backbone")) if x) or "-"
        version = f"{model.get('version', '-')} ({model.get('alias') or 'candidate'})" if model else "-"
        report = run / REPORT
        shown = link(f"/runs/{run.parent.name}/{run.name}/{REPORT}", "report") if report.is_file() else "-"
        rows.append(
            [
                esc(run.parent.name),
                esc(run.name),
                esc(summary.get("metric") or "-"),
                esc(_score(summary.get("score"))),
                esc(winner),
                esc(summary.get("mode") or "-"),
                esc(version),
                shown,
            ]  # fmt: skip
        )
    return rows


def routes(ctx: UiContext) -> list[BaseRoute]:
    async def models(request: Request) -> Response:
        rows = await run_in_threadpool(model_rows, ctx.workspace)
        headers = ["model", "version", "aliases", "metric", "score", "winner", "classes", "created"]
        return layout("Models", table(headers, rows, f"no models in {ctx.workspace} yet"))

    async def runs(request: Request) -> Response:
        rows = await run_in_threadpool(run_rows, ctx.workspace)
        headers = ["recipe", "run", "metric", "score", "winner", "mode", "model", "report"]
        return layout("Runs", table(headers, rows, f"no runs in {ctx.workspace} yet"))

    async def report(request: Request) -> Response:
        recipe, run = request.path_params["recipe"], request.path_params["run"]
        root = (ctx.workspace / "runs").resolve()
        path = (root / recipe / run / REPORT).resolve()
        if not (_PART.match(recipe) and _PART.match(run)) or not path.is_relative_to(root) or not path.is_file():
            return error(404, "no such report")
        return FileResponse(path, media_type="text/html", headers={"Content-Security-Policy": REPORT_POLICY})

    return [
        Route("/models", models, methods=["GET"]),
        Route("/runs", runs, methods=["GET"]),
        Route("/runs/{recipe}/{run}/report.html", report, methods=["GET"]),
    ]
