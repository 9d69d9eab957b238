"""Matplotlib for the HTML reports: figures drawn on ``matplotlib.figure.Figure`` objects (never
pyplot, whose global state is not safe from the pages' threads), as base64 PNGs for ``<img>`` tags
(the drift report, the run report, the monitoring page), and text matplotlib shows as written."""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

PERIOD_NAMES = {"D": "day", "h": "hour", "min": "minute"}


def figure(width: float, height: float) -> Any:
    """A new ``matplotlib.figure.Figure`` of ``width`` x ``height`` inches, owned by the caller
    alone (no pyplot figure manager; drawn with Agg when saved). Add axes with ``fig.subplots``."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def png(fig: Any) -> str:
    """The figure as a base64 PNG (96 dpi, trimmed): a ``data:image/png`` source."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def img(title: str, data: str) -> str:
    """A ``<figure>`` of a base64 PNG (``png``), its title escaped as the alt text and caption."""
    from html import escape

    shown = escape(title, quote=True)
    return f"<figure><img alt='{shown}' src='data:image/png;base64,{data}'><figcaption>{shown}</figcaption></figure>"


def period(times: pd.Series) -> str:
    """The bucket of a plot over time (a pandas frequency, named in ``PERIOD_NAMES``), by the span
    ``times`` covers: a day over three days, an hour over three hours, else a minute."""
    import pandas as pd

    span = times.max() - times.min() if len(times) else pd.Timedelta(0)
    return "D" if span > pd.Timedelta(days=3) else "h" if span > pd.Timedelta(hours=3) else "min"


def plain(text: str) -> str:
    """Text matplotlib draws as written: ``$`` would start mathematics (and a stray one fails the
    drawing), and a legend leaves out labels that begin with ``_``."""
    text = text.replace("$", r"\$")
    return " " + text if text.startswith("_") else text
