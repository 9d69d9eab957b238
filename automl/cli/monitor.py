"""``automl monitor``: drift of a served model's inputs and outputs; exit 4 on drift."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from automl.cli.args import Args, emit
from automl.errors import DriftDetected, UserError


def cmd_monitor(args: Args, sub: list[str]) -> int:
    from automl.loop.monitor import monitor
    from automl.loop.report import render_text, write_html
    from automl.loop.windows import invoke_history
    from automl.paths import workspace_dir
    from automl.plugins.manager import get_plugins

    ref = args.require("model", "NAME (its production version), NAME:VERSION or NAME@ALIAS")
    overrides: dict[str, Any] = {}
    if args.get("reference") is not None:
        overrides["reference"] = args.get("reference")
    for key in ("window", "reference_window"):
        value = args.integer(key, None, 2, 10**9)
        if value is not None:
            overrides[key] = value
    hours = args.number(
        "window_hours", None, "give the window in hours, a number > 0, e.g. window_hours=24", 0, above=True
    )
    if hours is not None:
        overrides["window_hours"] = hours
    alpha = args.number("alpha", None, "give the false-alarm rate as a number in (0, 1), e.g. alpha=0.05", 0, 1, True)
    if alpha is not None:
        overrides["alpha"] = alpha
    target = args.get("html")
    workspace = workspace_dir(args.get("workspace"))
    args.finish("monitor")
    if target is not None and not target:
        raise UserError("html=: name the file to write the report to, e.g. html=drift.html.")
    report = monitor(workspace, ref, get_plugins(), overrides)
    text = render_text(report)
    if target:
        written = write_html(report, invoke_history(workspace, report.model), Path(target))
        text += f"\nreport: {written}"
    emit(args, report.to_json(), text)
    if report.drifted:
        names = ", ".join(c.name for c in report.drifted)
        raise DriftDetected(
            f"{report.model} v{report.version}: {names} ({len(report.drifted)} of {len(report.checks)} checks)"
        )
    return 0
