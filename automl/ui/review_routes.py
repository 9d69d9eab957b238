"""The review / annotate page and its JSON API.

Reads: ``GET /api/session``, ``/api/queue?model=&sort=&limit=``, ``/api/input/MODEL/ITEM`` (an
item's image), ``/api/train?model=``. Writes (the key or its session): ``POST /api/answer``
``{model, item_id, label}`` or ``{model, answers: [...]}``, ``/api/discard`` and ``/api/undo``
``{model, item_id}``, ``/api/labels`` ``{model, label}``, ``/api/projects`` ``{name, source,
labels}``, ``/api/train`` ``{model}``. Every answer is saved before the response: closing the tab loses nothing.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from automl.errors import UserError
from automl.store.reviews import QueueItem, ReviewStore
from automl.ui import html
from automl.ui.access import COOKIE
from automl.ui.files import blob_file, image_response
from automl.ui.projects import create_project, load_project, pool_file, project_names, queue_pool
from automl.ui.queue import ReviewQueue, queue_names
from automl.ui.server import UiContext, error, json_body
from automl.ui.training import TrainJob, score_pool

_ID = re.compile(r"^[0-9a-f]{12}$")
log = logging.getLogger(__name__)


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise UserError(f"{key} is required (a string)")
    return value


def _item_id(body: dict[str, Any]) -> str:
    item_id = _text(body, "item_id")
    if not _ID.match(item_id):
        raise UserError(f"item_id {item_id[:20]!r} is not an item id")
    return item_id


def rescore(ctx: UiContext, name: str, job: TrainJob | None = None) -> None:
    """Score a project's pool with its production model, in the background; then ``job`` (the
    run that made the model) says so to the page."""

    def work() -> None:
        try:
            scores = score_pool(ctx.workspace, name)
            with ctx.lock:
                ctx.scores[name] = scores
        except Exception as err:  # the page keeps its arrival order; the reason is logged
            log.warning("scoring the pool of %s failed: %s", name, err)
        finally:
            if job is not None:
                job.scored = True

    threading.Thread(target=work, name=f"score-{name}", daemon=True).start()


LISTED_MAX = 10_000


def routes(ctx: UiContext) -> list[BaseRoute]:
    # The items /api/queue listed, by (queue, item id): an image request finds its item here
    # without reading the queue table under the review store's process-wide lock (the page asks
    # for 20 images ahead; each read of the table took ~30 ms, one after another).
    listed: dict[tuple[str, str], QueueItem] = {}

    def queue(name: str) -> ReviewQueue:
        return ReviewQueue(ctx.workspace, name, ctx.scores.get(name))

    async def page(request: Request) -> Response:
        return html.static_page("review.html", "Review")

    async def session(request: Request) -> Response:
        can_write = ctx.access.write_refusal(dict(request.headers), request.cookies) is None
        names = await run_in_threadpool(queue_names, ctx.workspace)
        return JSONResponse({"can_write": can_write, "queues": names, "signed_in": COOKIE in request.cookies})

    async def pending(request: Request) -> Response:
        name = request.query_params.get("model") or ""
        sort = request.query_params.get("sort") or "uncertainty"
        limit = (
            int(request.query_params.get("limit") or 50)
            if (request.query_params.get("limit") or "50").isdigit()
            else 50
        )

        def read() -> dict[str, Any]:
            q = queue(name)
            job = ctx.jobs.get(name)
            items = q.pending(sort, limit)
            with ctx.lock:
                if len(listed) > LISTED_MAX:
                    listed.clear()
                listed.update({(name, i): q.listed[i] for i in (v["id"] for v in items)})
            return {
                "model": name,
                "task": q.task,
                "version": q.version,
                "labels": q.labels,
                "counts": q.counts(),
                "project": q.project is not None and q.project.source is not None,
                "training": job.status() if job else None,
                "items": items,
            }

        return JSONResponse(await run_in_threadpool(read))

    async def item_input(request: Request) -> Response:
        name, item_id = request.path_params["model"], request.path_params["item_id"]
        if not _ID.match(item_id):
            return error(404, "no such item")

        def find() -> Path | None:
            found = listed.get((name, item_id))
            if found is None:  # not listed by this process (a link from elsewhere): read the table
                items = ReviewStore(ctx.workspace).items(name, status=None)
                found = next((i for i in items if i.item_id == item_id), None)
            if found is None:
                return None
            if found.input_blob:
                return blob_file(ctx.workspace, found.input_blob)
            project = load_project(ctx.workspace, name) if name in project_names(ctx.workspace) else None
            value = json.loads(found.input_json) if found.input_json else None
            return pool_file(project, value) if project else None

        return image_response(await run_in_threadpool(find))

    async def answer(request: Request) -> Response:
        """``{model, item_id, label}``, or ``{model, answers: [{item_id, label}, ...]}`` (a label
        of null discards), saved together."""
        body = await json_body(request)
        name = _text(body, "model")
        given = body.get("answers") if "answers" in body else [body]
        if not isinstance(given, list) or not given or not all(isinstance(a, dict) for a in given):
            raise UserError("answers: give a list of {item_id, label}")
        answers = [(_item_id(a), None if a.get("label") is None else _text(a, "label")) for a in given]
        notes = await run_in_threadpool(lambda: queue(name).answer(answers, ctx.reviewer))
        return JSONResponse({"saved": [a[0] for a in answers], "labelled": len(notes)})

    async def discard(request: Request) -> Response:
        body = await json_body(request)
        name, item_id = _text(body, "model"), _item_id(body)
        await run_in_threadpool(lambda: queue(name).answer([(item_id, None)], ctx.reviewer))
        return JSONResponse({"discarded": item_id})

    async def undo(request: Request) -> Response:
        body = await json_body(request)
        name, item_id = _text(body, "model"), _item_id(body)
        await run_in_threadpool(lambda: queue(name).undo(item_id))
        return JSONResponse({"pending": item_id})

    async def add_label(request: Request) -> Response:
        body = await json_body(request)
        name, label = _text(body, "model"), _text(body, "label")
        labels = await run_in_threadpool(lambda: queue(name).add_label(label))
        return JSONResponse({"labels": labels})

    async def new_project(request: Request) -> Response:
        body = await json_body(request)
        labels = body.get("labels") or []
        if isinstance(labels, str):
            labels = [p for p in labels.split(",") if p.strip()]
        trainers = body.get("trainers")
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise UserError("labels: give a list of label names")
        if trainers is not None and not (isinstance(trainers, list) and all(isinstance(x, str) for x in trainers)):
            raise UserError("trainers: give a list of trainer names")
        name, source = _text(body, "name"), _text(body, "source")
        project = await run_in_threadpool(lambda: create_project(ctx.workspace, name, source, labels, trainers))
        return JSONResponse({"name": project.name, "task": project.task, "labels": project.labels})

    async def train(request: Request) -> Response:
        if request.method in ("GET", "HEAD"):
            job = ctx.jobs.get(request.query_params.get("model") or "")
            return JSONResponse(job.status() if job else {"state": "idle"})
        name = _text(await json_body(request), "model")
        project = load_project(ctx.workspace, name) if name in project_names(ctx.workspace) else None
        if project is None or project.source is None:
            raise UserError(f"{name} is not a project started on this page; train it with automl run.")

        def begin() -> TrainJob | None:
            with ctx.lock:
                running = ctx.jobs.get(name)
                if running is not None and running.running:
                    return None
                job = TrainJob(ctx.workspace, project, when_done=lambda done: rescore(ctx, name, done))
                job.start()
                ctx.jobs[name] = job
                return job

        job = await run_in_threadpool(begin)
        if job is None:
            return error(409, f"{name} is training already")
        return JSONResponse(job.status(), status_code=202)

    return [
        Route("/review", page, methods=["GET"]),
        Route("/api/session", session, methods=["GET"]),
        Route("/api/queue", pending, methods=["GET"]),
        Route("/api/input/{model}/{item_id}", item_input, methods=["GET"]),
        Route("/api/answer", answer, methods=["POST"]),
        Route("/api/discard", discard, methods=["POST"]),
        Route("/api/undo", undo, methods=["POST"]),
        Route("/api/labels", add_label, methods=["POST"]),
        Route("/api/projects", new_project, methods=["POST"]),
        Route("/api/train", train, methods=["GET", "POST"]),
    ]


def start_projects(ctx: UiContext) -> None:
    """At start: queue what is new in each project's pool, and score pools that have a model."""
    from automl.registry.store import ModelStore

    models = set(ModelStore(ctx.workspace).names())
    for name in project_names(ctx.workspace):
        project = load_project(ctx.workspace, name)
        if project is None or project.source is None:
            continue
        try:
            queue_pool(ctx.workspace, project)
        except UserError as err:
            log.warning("project %s: %s", name, err)
        if name in models:
            rescore(ctx, name)
