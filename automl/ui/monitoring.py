"""The monitoring page (``GET /monitoring?model=NAME``): one model's versions and their traffic
shares (the invoke log per version and route, beside the rollout state's split), the rollout's
steps, the server's last analysis and the audit trail, drift now and over time (``monitor`` and
the drift report's plots), the predicted-class balance over time, and how often reviewers agreed
with the model (``disagreement``). Rendered on the server; plots are matplotlib PNGs (the drift
report's helper), as ``data:`` images, so the page needs no script.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from automl.errors import UserError
from automl.evaluate.plots import PERIOD_NAMES, figure, img, period, plain, png
from automl.registry.rollout import Event, RolloutState, describe
from automl.registry.store import ModelStore
from automl.ui.html import esc, layout, table
from automl.ui.server import UiContext

log = logging.getLogger(__name__)
EVENTS = 30


def _section(title: str, body: str) -> str:
    return f"<section><h2>{esc(title)}</h2>{body}</section>"


def _empty(text: str) -> str:
    return f"<p class=empty>{esc(text)}</p>"


def traffic(workspace: Path, name: str) -> pd.DataFrame:
    """Invokes per version and route, with when each began and ended (UTC)."""
    from automl.store.invokes import query_invokes

    return query_invokes(
        workspace,
        "SELECT version, route, count(*) AS invokes, min(ts) AS first, max(ts) AS last FROM invokes "
        "WHERE model = ? GROUP BY version, route ORDER BY version, route",
        [name],
    )


def traffic_section(workspace: Path, name: str, state: RolloutState) -> str:
    counts = traffic(workspace, name)
    split = f"configured split: production v{state.production}" if state.production is not None else "no production"
    if state.candidate is not None:
        what = f"{state.percent}% canary" if state.mode == "canary" else state.mode
        split += f"; candidate v{state.candidate} ({what})"
    if counts.empty:
        return _section("Versions and traffic", f"<p>{esc(split)}</p>" + _empty(f"no invokes of {name} logged yet"))
    served = counts[counts["route"] != "shadow"]["invokes"].sum()
    rows = [
        [esc(f"v{r.version}"), esc(r.route), esc(int(r.invokes)),
         esc("-" if r.route == "shadow" or not served else f"{100 * r.invokes / served:.1f}%"),
         esc(r.first.strftime("%Y-%m-%d %H:%M:%S")), esc(r.last.strftime("%Y-%m-%d %H:%M:%S"))]
        for r in counts.itertuples()
    ]  # fmt: skip
    head = ["version", "route", "invokes", "share of answered requests", "first (UTC)", "last (UTC)"]
    body = f"<p id=split>{esc(split)}</p>" + table(head, rows, "")
    plot = traffic_plot(workspace, name)
    return _section("Versions and traffic", body + (img("Traffic share per version over time", plot) if plot else ""))


def traffic_plot(workspace: Path, name: str) -> str | None:
    """Each version's share of answered requests per period (a shadow answers none)."""
    from automl.store.invokes import query_invokes

    rows = query_invokes(
        workspace,
        "SELECT ts, version FROM invokes WHERE model = ? AND route <> 'shadow' ORDER BY seq DESC LIMIT 100000",
        [name],
    )
    times = pd.to_datetime(rows["ts"], utc=True).dt.tz_convert(None)
    freq = period(times)
    shares = pd.crosstab(times.dt.floor(freq), rows["version"].map(lambda v: f"v{v}"), normalize="index")
    if len(shares) < 2:
        return None
    fig = figure(7, 3)
    ax = fig.subplots()
    ax.stackplot(shares.index, shares.T.to_numpy(), labels=[plain(str(c)) for c in shares.columns], linewidth=0)
    ax.legend(loc="upper left", fontsize="small")
    ax.set_ylabel("share of answered requests")
    ax.set_xlabel(f"time (UTC, per {PERIOD_NAMES[freq]})")
    ax.set_ylim(0, 1)
    return png(fig)


def history(state: RolloutState) -> list[Event]:
    """The audit trail, oldest first (production changes where the state predates it)."""
    return list(state.events) or [Event(c.at or "-", c.version, c.how, "") for c in state.history]


def rollout_section(store: ModelStore, name: str, state: RolloutState) -> str:
    from automl.serve.rollout_controller import read_analysis

    parts = []
    plan = state.plan
    if plan is None or state.candidate is None:
        parts.append(_empty(f"no rollout running; production is v{state.production}"))
    else:
        steps = "".join(
            f"<li{' aria-current=step class=current' if i == plan.step else ''}>{esc(describe(s))}</li>"
            for i, s in enumerate(plan.steps)
        )
        parts.append(
            f"<p>v{esc(state.candidate)} rolling out over production v{esc(state.production)}: step "
            f"{plan.step + 1} of {len(plan.steps)} since {esc(plan.since)}, {plan.failures} failed analyses</p>"
            f"<ol id=steps class=steps>{steps}</ol>"
        )
        analysis = read_analysis(store, name)
        if analysis and analysis.get("candidate") == state.candidate:
            result = {True: "pass", False: "FAIL", None: "wait"}
            rows = [[esc(c.get("name")), esc(result.get(c.get("passed"), "?")), esc(c.get("detail"))]
                    for c in analysis.get("checks", [])]  # fmt: skip
            parts.append(
                f"<p>last analysis {esc(analysis.get('at'))}: {esc(analysis.get('compared'))} compared requests</p>"
            )
            parts.append(table(["check", "result", "detail"], rows, "no checks in the analysis"))
        else:
            parts.append(_empty("no analysis yet (the server analyses while it serves the model)"))
    events = history(state)[::-1][:EVENTS]
    rows = [[esc(e.at), esc(f"v{e.version}"), esc(e.action), esc(e.why)] for e in events]
    parts.append("<h3>History</h3>" + table(["when (UTC)", "version", "action", "why"], rows, "no history yet"))
    return _section("Rollout", "".join(parts))


DRIFT_TTL_S = 30.0  # a page reload within this reuses the drift section (monitor() embeds and tests)
_drift_cache: dict[tuple[str, str], tuple[float, str]] = {}
_drift_locks: dict[tuple[str, str], threading.Lock] = {}  # one per model: a slow one blocks only itself
_drift_guard = threading.Lock()  # the two dicts, held only to read or write them


def drift_section(workspace: Path, name: str) -> str:
    """The drift section, computed at most once per ``DRIFT_TTL_S`` per model: ``monitor`` may
    embed the recent inputs and run its tests, too slow to repeat on every reload. Loads of the
    same model wait for the one computing it; other models' do not."""
    key = (str(workspace), name)

    def fresh() -> str | None:
        with _drift_guard:
            cached = _drift_cache.get(key)
        return cached[1] if cached is not None and time.monotonic() - cached[0] < DRIFT_TTL_S else None

    shown = fresh()
    if shown is not None:
        return shown
    with _drift_guard:
        lock = _drift_locks.setdefault(key, threading.Lock())
    with lock:
        shown = fresh()  # computed by the load this one waited for
        if shown is not None:
            return shown
        html = _drift_section(workspace, name)
        with _drift_guard:
            _drift_cache[key] = (time.monotonic(), html)
        return html


def _drift_section(workspace: Path, name: str) -> str:
    from automl.loop.monitor import monitor
    from automl.loop.report import figures, verdict
    from automl.loop.windows import invoke_history
    from automl.plugins.manager import get_plugins

    try:
        report = monitor(workspace, name, get_plugins())
    except UserError as err:
        return _section("Drift", _empty(f"not monitored: {err}"))
    when = f" ({report.first} to {report.last} UTC)" if report.first else ""
    head = (
        f"<p><b class='{'drift' if report.drifted else ''}'>{esc(verdict(report))}</b> for v{report.version}: "
        f"{esc(report.current)}{esc(when)} against {esc(report.reference)}.</p>"
        + "".join(f"<p class=why>{esc(n)}</p>" for n in report.notes)
    )
    rows = [
        [esc(c.name), esc(c.kind), esc(c.detector), esc(f"{c.statistic:.4f}"),
         esc("-" if c.p_value is None else f"{c.p_value:.4f}"), esc("yes" if c.drift else "no")]
        for c in report.checks
    ]  # fmt: skip
    checks = table(["check", "kind", "test", "statistic", "p (Holm)", "drift"], rows, "") if rows else ""
    shown = figures(report, invoke_history(workspace, name))
    plots = "".join(img(title, data) for title, data in shown)
    if not any("over time" in title for title, _ in shown):
        plots += _empty("the class balance over time shows once the invokes span two periods (minutes, hours or days)")
    return _section("Drift and class balance", head + checks + f"<div class=plots>{plots}</div>")


def agreement_section(workspace: Path, name: str) -> str:
    from automl.loop.monitor import disagreement

    found = disagreement(workspace, name)
    if not found:
        return _section("Reviewer agreement", _empty(f"no reviewed invokes of {name} yet"))
    frame = pd.DataFrame(found)
    reviewed, disagreed = int(frame["reviewed"].sum()), int(frame["disagreed"].sum())
    summary = (
        f"<p id=agreement>reviewers gave the model's label to {reviewed - disagreed} of {reviewed} reviewed invokes "
        f"({100 * (reviewed - disagreed) / reviewed:.0f}% agreement)</p>"
    )
    rows = [[esc(r["day"]), esc(r["predicted"]), esc(r["reviewed"]), esc(r["disagreed"]),
             esc(f"{100 * (1 - r['rate']):.0f}%")] for r in found]  # fmt: skip
    listed = table(["day (UTC)", "model's label", "reviewed", "relabelled", "agreement"], rows, "")
    days = frame.groupby("day")[["reviewed", "disagreed"]].sum()
    fig = figure(7, 2.6)
    ax = fig.subplots()
    ax.bar(days.index, 1 - days["disagreed"] / days["reviewed"], color="#2e86c1")
    ax.set_ylim(0, 1)
    ax.set_ylabel("agreement")
    ax.set_xlabel("day the invokes were sampled (UTC)")
    ax.tick_params(axis="x", rotation=30)
    ax.set_title(plain(f"{name}: reviewer kept the model's label"), fontsize=10)
    return _section("Reviewer agreement", summary + img("Reviewer agreement per day", png(fig)) + listed)


def monitoring_body(workspace: Path, model: str | None) -> str:
    store = ModelStore(workspace)
    names = store.names()
    if not names:
        return _empty(f"no models in {workspace} yet: run a recipe (automl run recipe=NAME), then serve it.")
    name = model if model in names else names[0]
    options = "".join(f"<option{' selected' if n == name else ''}>{esc(n)}</option>" for n in names)
    picker = (
        f"<form class=bar method=get action=/monitoring><label>Model <select name=model>{options}</select></label>"
        "<button type=submit>Show</button></form>"
    )
    if model and model not in names:
        picker += _empty(f"no model called {model}; showing {name}")
    state = store.rollout(name)
    sections = [traffic_section(workspace, name, state), rollout_section(store, name, state)]
    for part in (drift_section, agreement_section):
        try:
            sections.append(part(workspace, name))
        except Exception as err:  # one failing part leaves the others shown; the reason is logged
            log.warning("monitoring %s: %s failed: %s", name, part.__name__, err)
            sections.append(_empty(f"{part.__name__.split('_')[0]}: could not be shown ({err})"))
    return picker + "".join(sections)


def routes(ctx: UiContext) -> list[BaseRoute]:
    async def page(request: Request) -> Response:
        model: Any = request.query_params.get("model") or None
        return layout("Monitoring", await run_in_threadpool(monitoring_body, ctx.workspace, model))

    return [Route("/monitoring", page, methods=["GET"])]
