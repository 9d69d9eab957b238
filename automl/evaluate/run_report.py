"""A run's report for people: one self-contained HTML page (``report.html`` in the run folder)
with the leaderboard and its times, the metric per fold, per-class scores, the confusion matrix,
ROC and precision-recall curves, a reliability diagram, accuracy against coverage, the trial
history and the winner's lineage. Read from the run's files alone; plots are matplotlib PNGs
embedded in the page. Every text that comes from data is escaped."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from automl.evaluate.plots import img
from automl.evaluate.run_figures import (
    coverage_figure,
    history_figure,
    pr_figure,
    reliability_figure,
    roc_figure,
)
from automl.evaluate.run_metrics import (
    ACCURACY_TARGETS,
    CALIBRATION_BINS,
    CONFIDENCES,
    BoardRow,
    Coverage,
    Curve,
    Predictions,
    Reliability,
    class_scores,
    confusion,
    coverage,
    curves,
    greater_is_better,
    read_board,
    read_predictions,
    reliability,
)

REPORT_FILE = "report.html"

esc = html.escape


class Html(str):
    """Markup a table cell holds as it is (everything else is escaped)."""


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


NUMBER = re.compile(r"[-+]?[0-9][0-9.,e+-]*%?|-")


def _cell(value: Any) -> str:
    if isinstance(value, Html):
        return str(value)
    if isinstance(value, float):
        value = f"{value:.4f}".rstrip("0").rstrip(".")
    return esc("-" if value is None else str(value))


def _td(value: Any) -> str:
    text = _cell(value)
    number = not isinstance(value, Html) and NUMBER.fullmatch(text) is not None
    return f"<td class='n'>{text}</td>" if number else f"<td>{text}</td>"


def _table(headers: Sequence[Any] | None, rows: Sequence[Sequence[Any]], css: str = "") -> str:
    head = "" if headers is None else "<tr>" + "".join(f"<th>{_cell(h)}</th>" for h in headers) + "</tr>"
    body = "".join("<tr>" + "".join(_td(v) for v in row) + "</tr>" for row in rows)
    return f"<div class='scroll'><table class='{css}'>{head}{body}</table></div>"


def _compact(value: Any, limit: int = 140) -> Html:
    text = json.dumps(value, default=str, sort_keys=True)
    shown = text if len(text) <= limit else text[: limit - 1] + "\u2026"
    return Html(f"<span title='{esc(text)}'>{esc(shown)}</span>")


def _config(trainer: Any, backbone: Any, params: Any) -> tuple[str, str, str]:
    return str(trainer), str(backbone or ""), json.dumps(params, sort_keys=True, default=str)


def _winner(board: list[BoardRow], best: dict[str, Any]) -> int | None:
    """The leaderboard row the run refit: the first whose trainer, backbone and params are the
    summary's ``best`` (rank order: the refit may choose a cheaper row than rank 1)."""
    wanted = _config(best.get("trainer"), best.get("backbone"), best.get("params"))
    return next((i for i, r in enumerate(board) if _config(r.trainer, r.backbone, r.params) == wanted), None)


def _leaderboard(board: list[BoardRow], summary: dict[str, Any]) -> str:
    best = summary.get("best") or {}
    timing = summary.get("timing") or {}
    export = summary.get("export") or {}
    native, onnx = export.get("native_ms_per_row"), export.get("onnx_ms_per_row")
    rows = []
    chosen = _winner(board, best)
    for i, r in enumerate(board):
        winner = i == chosen
        predict = "-"
        if winner and native is not None:
            predict = f"{native:.3f}" + (f" (ONNX {onnx:.3f})" if onnx is not None else "")
        name = Html(f"<b>{esc(r.candidate)}</b> (winner)") if winner else r.candidate
        rows.append(
            [
                r.rank,
                name,
                r.trainer,
                r.backbone,
                r.status,
                _fmt(r.score),
                _fmt(r.score_std),
                _fmt(r.work_s, 2),
                _fmt(timing.get("refit_s"), 2) if winner else "-",
                predict,
                _compact(r.params),
                r.error,
            ]  # fmt: skip
        )
    headers = ["rank", "candidate", "trainer", "backbone", "status", summary.get("metric", "score"), "std",
               "CV fit s", "refit s", "predict ms/row", "params", "error"]  # fmt: skip
    if native is not None:
        predict_note = (
            "Predict time is measured only for the winner, once refit, by its export check "
            f"({export.get('exporter') or 'export'}: milliseconds per row, one row at a time); "
            "the search does not record predict times per trial."
        )
    else:
        predict_note = (
            "Predict time is not recorded: the search does not time predictions, and this run made no export check."
        )
    return (
        "<section id='leaderboard'><h2>Leaderboard</h2>"
        + _table(headers, rows, "board")
        + "<p class='note'>CV fit s: seconds inside the trial (fitting and scoring each fold it ran, "
        "loading plugins included); the ensemble fits nothing of its own (it blends its members' "
        "out-of-fold predictions). refit s: the winner's fit on every row. " + esc(predict_note) + "</p></section>"
    )


def _folds(board: list[BoardRow], summary: dict[str, Any]) -> str:
    shown = [r for r in board if r.fold_scores]
    k = max((len(r.fold_scores) for r in shown), default=0)
    rows = [
        [r.candidate, r.status, *[_fmt(s) for s in r.fold_scores], *["-"] * (k - len(r.fold_scores)), _fmt(r.score)]
        for r in shown
    ]
    metric = str(summary.get("metric", "score"))
    return (
        f"<section id='folds'><h2>CV {esc(metric)} per fold</h2>"
        + _table(["candidate", "status", *[f"fold {i + 1}" for i in range(k)], "mean"], rows)
        + "<p class='note'>A stopped trial has the folds it ran before it was stopped.</p></section>"
    )


def _per_class(p: Predictions, found: list[Curve]) -> str:
    rows = [
        [c.name, c.support, _fmt(c.precision), _fmt(c.recall), _fmt(c.f1), _fmt(c.roc_auc), _fmt(c.average_precision)]
        for c in class_scores(p, found)
    ]
    return (
        "<section id='classes'><h2>Per class</h2>"
        + _table(["class", "support", "precision", "recall", "F1", "ROC AUC (one-vs-rest)", "average precision"], rows)
        + "</section>"
    )


def _confusion(p: Predictions) -> str:
    counts, shares = confusion(p)

    def matrix(values: np.ndarray, text: Any) -> str:
        head = "<tr><th>true \\ predicted</th>" + "".join(f"<th>{esc(c)}</th>" for c in p.classes) + "</tr>"
        body = "".join(
            f"<tr><th>{esc(p.classes[i])}</th>"
            + "".join(
                f"<td style='background:rgba(46,134,193,{shares[i, j]:.2f})'>{text(values[i, j])}</td>"
                for j in range(len(p.classes))
            )
            + "</tr>"
            for i in range(len(p.classes))
        )
        return f"<div class='scroll'><table class='confusion'>{head}{body}</table></div>"

    return (
        "<section id='confusion'><h2>Confusion matrix</h2><h3>Counts</h3>"
        + matrix(counts, lambda v: str(int(v)))
        + "<h3>Normalised (share of each true class)</h3>"
        + matrix(shares, _pct)
        + "</section>"
    )


def _calibration(r: Reliability) -> str:
    return (
        "<section id='calibration'><h2>Reliability</h2>"
        f"<p>Expected calibration error: <b class='ece'>{r.ece:.4f}</b> ({len(r.counts)} non-empty of "
        f"{CALIBRATION_BINS} equal-width bins of the decided class's probability; the bins' accuracy against their "
        f"mean confidence, weighted by their examples).</p>"
        + img("Reliability diagram", reliability_figure(r))
        + "</section>"
    )


def _coverage(cov: Coverage) -> str:
    rows = []
    for c in CONFIDENCES:
        share, accuracy = cov.at(c)
        rows.append([f"\u2265 {c:g}", _pct(share), _pct(accuracy)])
    targets = []
    for t in ACCURACY_TARGETS:
        found = cov.for_accuracy(t)
        targets.append([_pct(t), "-" if found is None else f"{found[0]:.4f}", "-" if found is None else _pct(found[1])])
    return (
        "<section id='coverage'><h2>Accuracy against coverage</h2>"
        "<p>Answer only the inputs whose confidence reaches a cut-off (send the rest to a person): "
        "how many are answered, and how many of those correctly.</p>"
        + _table(["confidence", "answered", "accuracy"], rows, "coverage")
        + _table(["accuracy wanted", "lowest confidence", "answered"], targets, "targets")
        + img("Accuracy against coverage", coverage_figure(cov))
        + "</section>"
    )


def _lineage(summary: dict[str, Any]) -> str:
    model = summary.get("model") or {}
    gate = summary.get("gate") or {}
    best = summary.get("best") or {}
    data = summary.get("data") or {}
    facts: list[list[Any]] = [
        ["model", f"{model.get('name')} v{model.get('version')}"],
        ["alias", model.get("alias")],
        ["rollout started", "yes" if model.get("rollout") else "no"],
        ["verdict", model.get("reason") or gate.get("reason")],
        ["production compared", "none" if gate.get("production") is None else f"v{gate.get('production')}"],
        ["same configuration as production", "yes" if gate.get("same_configuration") else "no"],
        ["compared on", gate.get("compared_on")],
        ["best", f"{best.get('trainer')}" + (f" on {best.get('backbone')}" if best.get("backbone") else "")],
        ["params", _compact(best.get("params"), 400)],
        ["run", summary.get("run_id")],
        ["mode", f"{summary.get('mode')} ({summary.get('mode_reason')})"],
        ["previous run", summary.get("previous_run")],
        ["recipe hash", summary.get("recipe_hash")],
        ["data", f"{data.get('rows')} rows ({data.get('skipped')} skipped), content hash {data.get('content_hash')}"],
    ]
    parts = ["<section id='lineage'><h2>The winner's lineage</h2>", _table(None, facts, "facts")]
    comparison = gate.get("comparison")
    if comparison:
        parts.append("<h3>Against production, on the same examples</h3>")
        parts.append(
            _table(list(comparison), [[_compact(v) if isinstance(v, dict | list) else v for v in comparison.values()]])
        )
    tests = gate.get("tests") or []
    if tests:
        parts.append("<h3>Model tests</h3>")
        rows = [
            [
                t.get("name"),
                t.get("type"),
                "passed" if t.get("passed") else "FAILED",
                t.get("value"),
                t.get("limit"),
                t.get("detail"),
            ]
            for t in tests
        ]
        parts.append(_table(["test", "type", "result", "value", "limit", "detail"], rows))
    timing = summary.get("timing") or {}
    parts.append("<h3>Where the run's time went</h3>")
    parts.append(_table(["phase", "seconds"], [[k.removesuffix("_s"), v] for k, v in timing.items()]))
    parts.append("</section>")
    return "".join(parts)


STYLE = """body{font-family:sans-serif;max-width:75em;margin:2em auto;padding:0 1em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}.confusion td{text-align:right}
.scroll{overflow-x:auto}.note{color:#555;font-size:.9em}figure{display:inline-block;margin:.5em 1em .5em 0}
figcaption{color:#555;font-size:.9em}"""


def render_run_report(run_dir: Path) -> str:
    """The report of the run in ``run_dir`` as one HTML page (images embedded)."""
    summary = json.loads((run_dir / "summary.json").read_text())
    board = read_board(run_dir / "leaderboard.csv")
    p = read_predictions(run_dir / "oof.parquet", summary.get("threshold"))
    found = curves(p)
    confidence, correct = p.confidence, p.correct
    metric = str(summary.get("metric", "score"))
    decision = "the most probable class"
    if summary.get("threshold") is not None and len(p.classes) == 2:
        decision = f"{p.classes[1]} where its probability is at least {summary['threshold']:.4f}"
    title = f"{summary.get('recipe', run_dir.parent.name)} run {summary.get('run_id', run_dir.name)}"
    header = (
        f"<h1>{esc(title)}</h1><p>{esc(str(summary.get('task')))}: {esc(metric)} "
        f"<b>{_fmt(summary.get('score'))}</b> \u00b1 {_fmt(summary.get('score_std'))} over "
        f"{len(summary.get('fold_scores') or [])} folds; {summary.get('trials')} trials "
        f"({summary.get('failed_trials')} failed, {summary.get('stopped_trials')} stopped) in "
        f"{_fmt(summary.get('duration_s'), 1)} s.</p><p class='note'>Per class, confusion, curves, "
        f"reliability and coverage: the winner's out-of-fold predictions ({len(p.y)} examples), deciding "
        f"{esc(decision)}.</p>"
    )
    roc_title = "ROC curve" if len(p.classes) == 2 else "ROC curves (one-vs-rest)"
    pr_title = "Precision-recall curve" if len(p.classes) == 2 else "Precision-recall curves (one-vs-rest)"
    sections = [
        header + "".join(f"<p class='note warn'>{esc(n)}</p>" for n in p.notes),
        _leaderboard(board, summary),
        _folds(board, summary),
        "<section id='history'><h2>Trial history</h2>"
        + img("Score by trial order", history_figure(board, metric, greater_is_better(board)))
        + "</section>",
    ]
    if len(p.y):
        sections += [
            _per_class(p, found),
            _confusion(p),
            "<section id='curves'><h2>ROC and precision-recall</h2>"
            + img(roc_title, roc_figure(found))
            + img(pr_title, pr_figure(found))
            + "</section>",
            _calibration(reliability(confidence, correct)),
            _coverage(coverage(confidence, correct)),
        ]
    else:
        sections.append(
            "<section id='predictions'><h2>Out-of-fold predictions</h2><p class='empty'>This run has no "
            "out-of-fold predictions to measure: no per-class scores, confusion matrix, curves, reliability or "
            "coverage.</p></section>"
        )
    sections.append(_lineage(summary))
    return (
        f"<!doctype html>\n<html lang='en'><head><meta charset='utf-8'><title>{esc(title)}</title>"
        f"<style>{STYLE}</style></head><body>\n" + "\n".join(sections) + "\n</body></html>\n"
    )


def write_run_report(run_dir: Path) -> Path:
    """Write ``report.html`` into the run folder; returns its path."""
    from automl.durable import write_text

    path = run_dir / REPORT_FILE
    write_text(path, render_run_report(run_dir))
    return path
