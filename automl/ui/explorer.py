"""The data explorer: per model, its training data (the last run's out-of-fold predictions, each
example's label-quality score from ``inspect_labels``) and its reviewed invokes (the review
queue with the reviewers' labels, joined with the invoke log), filtered and paged on the server;
the most confused class pairs of the out-of-fold confusion matrix side by side.

Reads: ``GET /explorer``; ``/api/explorer/models``; ``/api/explorer/summary?model=``;
``/api/explorer/rows?model=&set=training|reviewed&label=&predicted=&min_conf=&max_conf=&reason=
&min_issue=&max_issue=&sort=&limit=&offset=``; ``/api/explorer/image/MODEL/ROW`` (a training
image, only from inside the recipe's data folder). A reviewed image comes from the review page's
``/api/input/MODEL/ITEM`` (the invoke log's blobs).
"""

from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from automl.errors import UserError
from automl.registry.meta import IMAGE_TASK, TABULAR_TASK, BundleMeta
from automl.store.reviews import REVIEWED, ReviewStore
from automl.ui import html
from automl.ui.files import image_inside, image_response
from automl.ui.server import UiContext, error

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
SETS = ("training", "reviewed")
SORTS = {"training": ("issue", "confidence", "order"), "reviewed": ("arrival", "confidence")}
MAX_LIMIT = 200
PAIRS, PAIR_EXAMPLES = 3, 4


@dataclass
class RunData:
    """One run's training examples as the explorer shows them (built once per run, then kept)."""

    recipe: str
    run_id: str
    task: str
    classes: list[str]
    rows: pd.DataFrame  # row, example_id, source, fold, label, predicted, confidence, issue, flagged
    counts: np.ndarray  # confusion counts: rows the given label, columns the predicted one
    meta: BundleMeta | None
    inputs: dict[str, Any] | None = None  # example id -> text or row, read again when first shown
    notes: list[str] = field(default_factory=list)
    scored: bool = True  # False: the label-quality scores wait for a run in progress (built again)

    @property
    def data_root(self) -> Path | None:
        """The folder whose images the explorer may serve: ``data.path``, or the table's folder."""
        path = (self.meta.recipe.get("data") or {}).get("path") if self.meta else None
        if not path:
            return None
        root = Path(str(path))
        return root if root.is_dir() else root.parent


def check_model(name: str) -> str:
    if not _NAME.match(name or ""):
        raise UserError(f"model={name[:40]!r}: give a model's name (letters, digits, '_', '-', '.').")
    return name


SUMMARY = "summary.json"  # written after oof.parquet: a run counts once it is there


def finished_run(workspace: Path, recipe: str) -> Path | None:
    """The newest run folder of ``recipe`` with its ``summary.json`` (a run still being written,
    its out-of-fold file perhaps half there, does not count yet)."""
    found = sorted(p.parent for p in (workspace / "runs" / recipe).glob(f"*/{SUMMARY}"))
    found = [d for d in found if (d / "oof.parquet").is_file()]
    return found[-1] if found else None


def explorer_models(workspace: Path) -> list[str]:
    """Models with a finished run or a review queue."""
    from automl.registry.store import ModelStore

    names = {p.parent.parent.name for p in (workspace / "runs").glob(f"*/*/{SUMMARY}")}
    names |= set(ModelStore(workspace).names())
    return sorted(n for n in names if _NAME.match(n))


class RunNotReady(Exception):
    """The run's summary cannot be read (still being written)."""


def load_run(workspace: Path, run_dir: Path) -> RunData:
    """The run's out-of-fold predictions with their decisions, the label-quality scores of
    ``inspect_labels`` (cleanlab) and the confusion counts."""
    from automl.evaluate.run_metrics import confusion, read_predictions
    from automl.loop.label_issues import inspect_labels, run_meta

    recipe = run_dir.parent.name
    try:
        summary = json.loads((run_dir / SUMMARY).read_text())
    except (OSError, ValueError) as err:
        raise RunNotReady(str(err)) from None
    predictions = read_predictions(run_dir / "oof.parquet", summary.get("threshold"))
    oof = pd.read_parquet(run_dir / "oof.parquet", columns=["example_id", "source", "fold", "label"])
    oof = oof.iloc[predictions.rows].reset_index(drop=True)  # a row without probabilities is left out
    notes: list[str] = []
    scored = True
    try:
        report = inspect_labels(workspace, recipe, top=len(oof))
        quality = {(s.content_id, s.source): (s.score, s.flagged) for s in report.suspects}
        notes = list(report.notes)
        if report.run_id != run_dir.name:  # inspect reads the newest out-of-fold file: a run in progress
            quality, notes = {}, [f"no label-quality scores while run {report.run_id} is being written"]
            scored = False
    except (ValueError, OSError) as err:  # cleanlab refuses degenerate data (one class, no examples)
        quality, notes = {}, [f"no label-quality scores for this run: {err}"]
    found = [
        quality.get((str(e), str(s)), (math.nan, False)) for e, s in zip(oof["example_id"], oof["source"], strict=True)
    ]
    classes = predictions.classes
    rows = oof.assign(
        row=np.arange(len(oof)),
        label=oof["label"].astype(str),
        source=oof["source"].astype(str),
        predicted=np.asarray(classes, dtype=object)[predictions.predicted],
        confidence=predictions.confidence,
        issue=[q for q, _ in found],
        flagged=[f for _, f in found],
    )
    notes = [*predictions.notes, *notes]
    meta = run_meta(workspace, recipe, run_dir.name)
    task = str(summary.get("task") or (meta.task if meta else ""))
    counts = confusion(predictions)[0]
    return RunData(recipe, run_dir.name, task, classes, rows, counts, meta, notes=notes, scored=scored)


def training_inputs(workspace: Path, run: RunData) -> tuple[dict[str, Any], list[str]]:
    """Example id -> its text (or tabular row), read again through the run's recipe."""
    if run.meta is None:
        return {}, [f"the version of run {run.run_id} is no longer registered: its inputs are not shown"]
    from automl.loop.reference import training_table
    from automl.plugins.manager import get_plugins

    try:
        table = training_table(run.meta, get_plugins())
    except UserError as err:
        return {}, [f"the training data cannot be read again ({err})"]
    records = table.features.to_dict("records")
    if run.task != TABULAR_TASK:
        return {str(i): r.get("input") for i, r in zip(table.ids, records, strict=True)}, []
    return {str(i): r for i, r in zip(table.ids, records, strict=True)}, []


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in dict(value).items()}
    return json.dumps(clean, sort_keys=True, default=str)


def _number(value: Any) -> float | None:
    return None if value is None or not math.isfinite(float(value)) else round(float(value), 4)


@dataclass(frozen=True)
class Filters:
    label: str | None = None
    predicted: str | None = None
    min_conf: float | None = None
    max_conf: float | None = None
    reason: str | None = None
    min_issue: float | None = None
    max_issue: float | None = None

    @classmethod
    def parse(cls, q: QueryParams) -> Filters:
        def bound(key: str) -> float | None:
            text = q.get(key) or ""
            if not text:
                return None
            try:
                value = float(text)
            except ValueError:
                value = math.nan
            if not 0.0 <= value <= 1.0:
                raise UserError(f"{key}={text[:20]!r}: give a number from 0 to 1.")
            return value

        return cls(q.get("label") or None, q.get("predicted") or None, bound("min_conf"), bound("max_conf"),
                   q.get("reason") or None, bound("min_issue"), bound("max_issue"))  # fmt: skip

    def keep(self, frame: pd.DataFrame) -> pd.Series:
        """Which rows of ``frame`` (label, predicted, confidence, sampler, issue columns) pass."""
        keep = pd.Series(True, index=frame.index)
        for column, wanted in (("label", self.label), ("predicted", self.predicted), ("sampler", self.reason)):
            if wanted is not None:
                keep &= frame[column] == wanted
        for column, low, high in (
            ("confidence", self.min_conf, self.max_conf),
            ("issue", self.min_issue, self.max_issue),
        ):
            values = pd.to_numeric(frame[column], errors="coerce")
            if low is not None:
                keep &= values >= low
            if high is not None:
                keep &= values <= high
        return keep


def page_of(q: QueryParams) -> tuple[int, int]:
    """``limit`` (1 to 200, 50 unless given) and ``offset`` (from 0)."""
    limit, offset = q.get("limit") or "50", q.get("offset") or "0"
    if not limit.isdigit() or not 1 <= int(limit) <= MAX_LIMIT:
        raise UserError(f"limit={limit[:20]!r}: give a whole number from 1 to {MAX_LIMIT}.")
    if not offset.isdigit():
        raise UserError(f"offset={offset[:20]!r}: give a whole number from 0.")
    return int(limit), int(offset)


def _sorted(frame: pd.DataFrame, sort: str) -> pd.DataFrame:
    if sort == "issue":
        return frame.sort_values(["issue", "row"], na_position="last", kind="stable")
    if sort == "confidence":
        return frame.sort_values("confidence", na_position="last", kind="stable")
    if sort == "arrival":
        return frame.iloc[::-1]
    return frame


class Explorer:
    """The explorer's reads over one workspace; a run's data is built once and kept until the
    run's ``summary.json`` changes (it is written after the out-of-fold file)."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        self.lock = threading.Lock()
        self.runs: dict[str, tuple[tuple[str, int], RunData]] = {}

    def run(self, model: str) -> RunData | None:
        """The model's last finished run, or None when it has none. Kept until another run
        finishes or its ``summary.json`` changes (a run in progress keeps the one before)."""
        run_dir = finished_run(self.workspace, model)
        if run_dir is None:
            return None
        summary = run_dir / SUMMARY
        stamp = (str(summary), summary.stat().st_mtime_ns)
        with self.lock:
            kept = self.runs.get(model)
            if kept is not None and kept[0] == stamp:
                return kept[1]
        try:
            built = load_run(self.workspace, run_dir)
        except RunNotReady:  # its summary is being written: the last one shown, if any, stays
            return kept[1] if kept is not None else None
        if built.scored:
            with self.lock:
                self.runs[model] = (stamp, built)
        return built

    def inputs(self, run: RunData) -> dict[str, Any]:
        if run.inputs is None and run.task != IMAGE_TASK:
            run.inputs, notes = training_inputs(self.workspace, run)
            run.notes.extend(notes)
        return run.inputs or {}

    def training_view(self, model: str, run: RunData, row: Any) -> dict[str, Any]:
        image = run.task == IMAGE_TASK
        return {
            "set": "training",
            "id": str(row.example_id),
            "row": int(row.row),
            "source": str(row.source),
            "fold": int(row.fold),
            "label": row.label,
            "predicted": row.predicted,
            "confidence": _number(row.confidence),
            "issue": _number(row.issue),
            "flagged": bool(row.flagged),
            "kind": "image" if image else "text",
            "text": None if image else _text(self.inputs(run).get(str(row.example_id))),
            "src": f"/api/explorer/image/{model}/{int(row.row)}" if image else None,
            "name": Path(str(row.source)).name if image else None,
        }

    def reviewed_frame(self, model: str) -> pd.DataFrame:
        """Every queued invoke of ``model``, with the reviewer's label where there is one."""
        columns = ["item", "invoke_id", "label", "predicted", "confidence", "sampler", "reason", "status", "issue"]
        reviews = ReviewStore(self.workspace)
        if not reviews.path.exists():
            return pd.DataFrame(columns=columns)
        labels = {a.item_id: a.label for a in reviews.annotations(model) if a.item_id}
        items = reviews.items(model, status=None)
        frame = pd.DataFrame(
            [(i, i.invoke_id, labels.get(i.item_id) if i.status == REVIEWED else None, i.predicted or None,
              i.confidence, i.sampler, i.reason, i.status, None) for i in items],
            columns=columns,
        )  # fmt: skip
        return frame

    def reviewed_views(self, model: str, frame: pd.DataFrame) -> list[dict[str, Any]]:
        from automl.ui.queue import ReviewQueue

        queue = ReviewQueue(self.workspace, model)
        views = []
        for row in frame.itertuples():
            view = queue.view(row.item, {})
            views.append(
                {
                    **view,
                    "set": "reviewed",
                    "label": None if pd.isna(row.label) else row.label,
                    "status": row.status,
                    "issue": None,
                }
            )
        return _with_invokes(self.workspace, views, [str(r.invoke_id) for r in frame.itertuples()])

    def summary(self, model: str) -> dict[str, Any]:
        run = self.run(model)
        reviewed = self.reviewed_frame(model)
        result: dict[str, Any] = {
            "model": model,
            "run_id": run.run_id if run else None,
            "task": run.task if run else None,
            "classes": run.classes if run else sorted({str(x) for x in reviewed["predicted"].dropna()}),
            "training": len(run.rows) if run else 0,
            "reviewed": len(reviewed),
            "samplers": sorted({str(s) for s in reviewed["sampler"].dropna()}),
            "confused": self.confused(model, run) if run else [],
            "notes": list(run.notes) if run else [],
        }
        if run is None and reviewed.empty:
            result["notes"].append(f"{model} has no finished run and no reviewed invokes yet")
        return result

    def confused(self, model: str, run: RunData) -> list[dict[str, Any]]:
        """The most confused pairs of classes, each direction with its most confident mistakes."""
        counts = run.counts
        pairs = [
            (int(counts[a, b] + counts[b, a]), a, b) for a in range(len(counts)) for b in range(a + 1, len(counts))
        ]
        shown = []
        for total, a, b in sorted(pairs, key=lambda p: (-p[0], p[1], p[2]))[:PAIRS]:
            if total == 0:
                break
            sides = []
            for given, taken in ((a, b), (b, a)):
                label, predicted = run.classes[given], run.classes[taken]
                found = run.rows[(run.rows["label"] == label) & (run.rows["predicted"] == predicted)]
                found = found.sort_values("confidence", ascending=False, kind="stable").head(PAIR_EXAMPLES)
                sides.append({"label": label, "predicted": predicted, "count": int(counts[given, taken]),
                              "examples": [self.training_view(model, run, r) for r in found.itertuples()]})  # fmt: skip
            shown.append({"count": total, "sides": sides})
        return shown

    def rows(self, model: str, q: QueryParams) -> dict[str, Any]:
        kind = q.get("set") or "training"
        if kind not in SETS:
            raise UserError(f"set={kind[:20]!r}: use one of {', '.join(SETS)}.")
        sort = q.get("sort") or SORTS[kind][0]
        if sort not in SORTS[kind]:
            raise UserError(f"sort={sort[:20]!r}: the {kind} rows sort by {', '.join(SORTS[kind])}.")
        filters, (limit, offset) = Filters.parse(q), page_of(q)
        if kind == "training":
            run = self.run(model)
            frame = run.rows.assign(sampler=None) if run else pd.DataFrame()
        else:
            frame = self.reviewed_frame(model)
        if frame.empty:
            return {"set": kind, "total": 0, "offset": offset, "limit": limit, "rows": [],
                    "empty": _empty(model, kind)}  # fmt: skip
        chosen = _sorted(frame[filters.keep(frame)], sort)
        page = chosen.iloc[offset : offset + limit]
        if kind == "training" and run is not None:
            views = [self.training_view(model, run, r) for r in page.itertuples()]
        else:
            views = self.reviewed_views(model, page)
        return {"set": kind, "total": len(chosen), "offset": offset, "limit": limit, "rows": views}

    def image(self, model: str, row: int) -> Path | None:
        run = self.run(model)
        if run is None or run.task != IMAGE_TASK or not 0 <= row < len(run.rows):
            return None
        return image_inside(run.data_root, str(run.rows["source"].iat[row]))


def _empty(model: str, kind: str) -> str:
    if kind == "training":
        return f"{model} has no finished run: its training data shows here after `automl run recipe={model}`."
    return f"no invokes of {model} were sampled for review yet (automl sample model={model}, or the loop)."


def _with_invokes(workspace: Path, views: list[dict[str, Any]], invoke_ids: list[str]) -> list[dict[str, Any]]:
    """Each view with its invoke's time and route from the invoke log (None where gc removed it)."""
    from automl.store.invokes import query_invokes

    wanted = sorted({i for i in invoke_ids if i})
    found: dict[str, tuple[str, str]] = {}
    if wanted:
        rows = query_invokes(
            workspace,
            f"SELECT invoke_id, ts, route FROM invokes WHERE invoke_id IN ({', '.join('?' * len(wanted))})",
            wanted,
        )
        found = {
            i: (t.isoformat(sep=" ", timespec="seconds"), r)
            for i, t, r in zip(rows["invoke_id"], rows["ts"], rows["route"], strict=True)
        }
    for view, invoke in zip(views, invoke_ids, strict=True):
        view["ts"], view["route"] = found.get(invoke, (None, None))
    return views


def routes(ctx: UiContext) -> list[BaseRoute]:
    explorer = Explorer(ctx.workspace)

    async def page(request: Request) -> Response:
        return html.static_page("explorer.html", "Explorer")

    async def models(request: Request) -> Response:
        return JSONResponse({"models": await run_in_threadpool(explorer_models, ctx.workspace)})

    async def summary(request: Request) -> Response:
        model = check_model(request.query_params.get("model") or "")
        return JSONResponse(await run_in_threadpool(explorer.summary, model))

    async def rows(request: Request) -> Response:
        model = check_model(request.query_params.get("model") or "")
        return JSONResponse(await run_in_threadpool(explorer.rows, model, request.query_params))

    async def image(request: Request) -> Response:
        model, row = request.path_params["model"], request.path_params["row"]
        if not _NAME.match(model) or not row.isdigit():
            return error(404, "no such image")
        return image_response(await run_in_threadpool(explorer.image, model, int(row)))

    return [
        Route("/explorer", page, methods=["GET"]),
        Route("/api/explorer/models", models, methods=["GET"]),
        Route("/api/explorer/summary", summary, methods=["GET"]),
        Route("/api/explorer/rows", rows, methods=["GET"]),
        Route("/api/explorer/image/{model}/{row}", image, methods=["GET"]),
    ]
