"""A drift report for people: a terminal table, and an HTML page with plots (matplotlib)."""

from __future__ import annotations

import html
import math
from pathlib import Path

import pandas as pd

from automl.evaluate.plots import PERIOD_NAMES, figure, img, period, plain, png
from automl.loop.monitor import Check, DriftReport


def _p(check: Check) -> str:
    if check.p_value is None:
        return "-"
    return "<0.0001" if check.p_value < 1e-4 else f"{check.p_value:.4f}"


def verdict(report: DriftReport) -> str:
    if report.drifted:
        return f"drift in {len(report.drifted)} of {len(report.checks)} checks"
    return "no drift" if report.checks else "nothing compared"


def render_text(report: DriftReport) -> str:
    lines = [
        f"{report.model} v{report.version}: {verdict(report)} (false-alarm rate {report.alpha:g}, Holm-corrected)",
        f"reference: {report.reference}",
        f"current:   {report.current}" + (f" ({report.first} to {report.last} UTC)" if report.first else ""),
    ]
    lines += [f"note: {n}" for n in report.notes]
    if report.checks:
        lines.append(f"{'CHECK':<24}{'KIND':<8}{'TEST':<16}{'STATISTIC':>11}{'P (HOLM)':>10}{'THRESHOLD':>11}  DRIFT")
        for c in report.checks:
            threshold = "-" if c.threshold is None else f"{c.threshold:g}"
            lines.append(
                f"{c.name[:23]:<24}{c.kind:<8}{c.detector:<16}{c.statistic:>11.4f}{_p(c):>10}{threshold:>11}  "
                f"{'yes' if c.drift else 'no'}"
            )
    if report.disagreement:
        totals: dict[str, list[int]] = {}
        for row in report.disagreement:
            seen = totals.setdefault(row["predicted"], [0, 0])
            seen[0], seen[1] = seen[0] + row["reviewed"], seen[1] + row["disagreed"]
        shares = ", ".join(f"{c} {d}/{n}" for c, (n, d) in sorted(totals.items()))
        lines.append(f"reviewers disagreed with the model (per predicted class): {shares}")
    return "\n".join(lines)


def _severity(check: Check, alpha: float) -> float:
    """How far a check is towards its drift line (1.0): -log10(p) / -log10(alpha) for a test,
    statistic / threshold for a distance."""
    if check.p_value is not None:
        return -math.log10(max(check.p_value, 1e-300)) / -math.log10(alpha)
    return check.statistic / (check.threshold or 1.0)


def figures(report: DriftReport, history: pd.DataFrame) -> list[tuple[str, str]]:
    figures: list[tuple[str, str]] = []
    if report.checks:
        fig = figure(7, 0.35 * len(report.checks) + 1.2)
        ax = fig.subplots()
        names = [plain(f"{c.name} ({c.detector})") for c in report.checks]
        values = [_severity(c, report.alpha) for c in report.checks]
        ax.barh(names, values, color=["#c0392b" if c.drift else "#2e86c1" for c in report.checks])
        ax.axvline(1.0, color="black", linestyle="--", linewidth=1)
        ax.set_xlabel("towards drift (1 = the drift line)")
        ax.invert_yaxis()
        figures.append(("Drift per check", png(fig)))
    if report.class_balance:
        ref, cur = report.class_balance.get("reference", {}), report.class_balance.get("current", {})
        classes = sorted(set(ref) | set(cur))
        fig = figure(7, 3)
        ax = fig.subplots()
        x = range(len(classes))
        ax.bar([i - 0.2 for i in x], [ref.get(c, 0) for c in classes], width=0.4, label="reference")
        ax.bar([i + 0.2 for i in x], [cur.get(c, 0) for c in classes], width=0.4, label="current")
        ax.set_xticks(list(x), [plain(str(c)) for c in classes], rotation=30, ha="right")
        ax.set_ylabel("share of predictions")
        ax.legend()
        figures.append(("Predicted-class balance", png(fig)))
    times = pd.to_datetime(history["ts"], utc=True).dt.tz_convert(None)
    freq = period(times)
    shares = pd.crosstab(times.dt.floor(freq), history["label"], normalize="index") if len(times) else pd.DataFrame()
    if len(shares) >= 2:  # a line needs two moments
        fig = figure(7, 3)
        ax = fig.subplots()
        for column in shares.columns:
            ax.plot(shares.index, shares[column], marker="o" if len(shares) < 30 else None, label=plain(str(column)))
        ax.legend()
        ax.set_ylabel("share of predictions")
        ax.set_xlabel(f"time (UTC, per {PERIOD_NAMES[freq]})")
        figures.append(("Predicted-class balance over time", png(fig)))
        reference = report.class_balance.get("reference")
        if reference:
            from scipy.spatial.distance import jensenshannon

            classes = sorted(set(reference) | set(shares.columns))
            expected = [reference.get(c, 0.0) for c in classes]
            drift = [
                float(jensenshannon(expected, [row.get(c, 0.0) for c in classes], base=2))
                for _, row in shares.iterrows()
            ]
            fig = figure(7, 3)
            ax = fig.subplots()
            ax.plot(shares.index, drift, marker="o" if len(shares) < 30 else None)
            ax.set_ylabel("Jensen-Shannon distance")
            ax.set_xlabel("time (UTC)")
            ax.set_ylim(bottom=0)
            figures.append(("Class-balance drift over time (distance to the reference)", png(fig)))
    return figures


def render_html(report: DriftReport, history: pd.DataFrame) -> str:
    esc = html.escape
    rows = "".join(
        f"<tr class='{'drift' if c.drift else ''}'><td>{esc(c.name)}</td><td>{c.kind}</td><td>{esc(c.detector)}</td>"
        f"<td>{c.statistic:.4f}</td><td>{_p(c)}</td><td>{'-' if c.threshold is None else c.threshold}</td>"
        f"<td>{c.reference_n}</td><td>{c.current_n}</td><td>{'yes' if c.drift else 'no'}</td></tr>"
        for c in report.checks
    )
    plots = "".join(img(t, b) for t, b in figures(report, history))
    notes = "".join(f"<li>{esc(n)}</li>" for n in report.notes)
    when = f" ({report.first} to {report.last} UTC)" if report.first else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(report.model)} drift</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:right}}td:first-child{{text-align:left}}
tr.drift{{background:#fadbd8}}</style></head><body>
<h1>{esc(report.model)} v{report.version}: {verdict(report)}</h1>
<p>Reference: {esc(report.reference)}.<br>Current: {esc(report.current)}{when}.<br>
False-alarm rate {report.alpha:g} over the whole report (Holm-corrected p-values).</p>
<ul>{notes}</ul>
<table><tr><th>check</th><th>kind</th><th>test</th><th>statistic</th><th>p (Holm)</th><th>threshold</th>
<th>reference n</th><th>current n</th><th>drift</th></tr>{rows}</table>
{plots}
</body></html>
"""


def write_html(report: DriftReport, history: pd.DataFrame, path: Path) -> Path:
    from automl.durable import write_text

    write_text(path, render_html(report, history))
    return path
