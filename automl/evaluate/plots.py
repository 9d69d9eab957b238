"""Matplotlib for the HTML reports: the headless backend, figures as base64 PNGs for ``<img>``
tags (the drift report, the run report), and text matplotlib shows as written."""

from __future__ import annotations

import base64
import io
from typing import Any


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (no display needed), imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png(fig: Any) -> str:
    """The figure as a base64 PNG (96 dpi, trimmed), closed after: a ``data:image/png`` source."""
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    finally:
        pyplot().close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def plain(text: str) -> str:
    """Text matplotlib draws as written: ``$`` would start mathematics (and a stray one fails the
    drawing), and a legend leaves out labels that begin with ``_``."""
    text = text.replace("$", r"\$")
    return " " + text if text.startswith("_") else text
