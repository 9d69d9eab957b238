"""The run report's plots (matplotlib, as base64 PNGs): the trial history, ROC and
precision-recall curves, the reliability diagram, accuracy against coverage."""

from __future__ import annotations

from typing import Any

from automl.evaluate.plots import figure, plain, png
from automl.evaluate.run_metrics import CONFIDENCES, BoardRow, Coverage, Curve, Reliability

LEGEND_MAX = 12  # classes named in a plot's legend; more are drawn unnamed


def history_figure(board: list[BoardRow], metric: str, higher: bool) -> str:
    fig = figure(7, 3.2)
    ax = fig.subplots()
    trials = sorted((r for r in board if r.order is not None), key=lambda r: r.order or 0)
    scored = [r for r in trials if r.score is not None]
    for status, style in (
        ("completed", dict(marker="o", color="#2e86c1")),
        ("stopped", dict(marker="o", color="none")),
    ):
        shown = [r for r in scored if r.status == status]
        if shown:
            ax.scatter([r.order for r in shown], [r.score for r in shown], edgecolors="#2e86c1", label=status, **style)
    completed = [r for r in scored if r.status == "completed"]
    if completed:
        best, xs, ys = None, [], []
        for r in completed:
            assert r.score is not None
            if best is None or (r.score > best if higher else r.score < best):
                best = r.score
            xs.append(r.order)
            ys.append(best)
        ax.step(xs, ys, where="post", color="#c0392b", label="best so far")
    failed = [r for r in trials if r.status == "failed"]
    if failed:
        for r in failed:
            ax.axvline(r.order, color="#999999", linestyle=":", linewidth=1)
        ax.plot([], [], color="#999999", linestyle=":", label="failed")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial (configuration order)")
    ax.set_ylabel(plain(metric))
    _legend(ax, "best")
    return png(fig)


def _legend(ax: Any, where: str) -> None:
    """A legend when the axes have between one and ``LEGEND_MAX`` named artists (none: no legend,
    rather than matplotlib's warning)."""
    if 0 < len(ax.get_legend_handles_labels()[0]) <= LEGEND_MAX:
        ax.legend(loc=where, fontsize="small")


def roc_figure(found: list[Curve]) -> str:
    fig = figure(5, 4.2)
    ax = fig.subplots()
    for c in found:
        ax.plot(c.fpr, c.tpr, label=plain(f"{c.name} (AUC {c.auc:.3f})"))
    ax.plot([0, 1], [0, 1], color="#999999", linestyle="--", linewidth=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.01))
    _legend(ax, "lower right")
    return png(fig)


def pr_figure(found: list[Curve]) -> str:
    fig = figure(5, 4.2)
    ax = fig.subplots()
    for c in found:
        (line,) = ax.plot(c.recall, c.precision, label=plain(f"{c.name} (AP {c.average_precision:.3f})"))
        ax.axhline(c.prevalence, color=line.get_color(), linestyle=":", linewidth=1)
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.01))
    _legend(ax, "lower left")
    return png(fig)


def reliability_figure(r: Reliability) -> str:
    fig = figure(5, 5)
    ax, hist = fig.subplots(2, 1, height_ratios=(3, 1), sharex=True)
    ax.plot([0, 1], [0, 1], color="#999999", linestyle="--", linewidth=1, label="calibrated")
    ax.plot(r.confidence, r.accuracy, marker="o", color="#2e86c1", label=f"model (ECE {r.ece:.3f})")
    ax.set(ylabel="accuracy", ylim=(0, 1.01))
    ax.legend(loc="upper left", fontsize="small")
    hist.bar(r.confidence, r.counts, width=0.08, color="#2e86c1")
    hist.set(xlabel="confidence (probability of the decided class)", ylabel="examples", xlim=(0, 1))
    return png(fig)


def coverage_figure(cov: Coverage) -> str:
    fig = figure(5, 4.2)
    ax = fig.subplots()
    ax.plot(cov.coverage, cov.accuracy, color="#2e86c1")
    for c in CONFIDENCES:
        share, accuracy = cov.at(c)
        if accuracy is not None:
            ax.plot(share, accuracy, marker="o", color="#c0392b")
            ax.annotate(f"\u2265{c:g}", (share, accuracy), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set(xlabel="coverage (share of inputs answered)", ylabel="accuracy on the answered", xlim=(0, 1.01))
    return png(fig)
