"""What the core calls on the objects a component's factory returns, one protocol per kind.

Trainers build an ``Estimator`` and backbones an ``Embedder`` (both in ``components``), serving
backends adapt the core's request pipeline (``serving``); the rest are here. The core never checks
these with ``isinstance``: they document the contract, and type checkers hold plugins to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol


class Exporter(Protocol):
    """What ``deploy.export: NAME`` builds: writes an optimized copy of a fitted model.

    ``export`` writes into ``folder`` and returns a report (a dataclass or a mapping) with at least
    ``exported`` (bool) and, when it did not export, ``reason`` (one line); ``max_abs_diff`` and
    ``same_label_rate`` say how well the copy agrees with the native model on ``inputs``.
    """

    def export(self, model: Any, inputs: Any, folder: Path, **options: Any) -> Any: ...

    def load(self, folder: Path, threads: int | None = None) -> Any:
        """The exported copy in ``folder``, ready to answer: an object with ``predict_proba(inputs)``
        over the inputs ``FittedModel.predict_proba`` takes (a DataFrame or a list of row dicts for
        tables), giving ``(N, K)`` probabilities. ``threads``: the runtime's threads per call
        (serving wants 1 per worker). An exporter without ``load`` is never served."""
        ...


class Sampler(Protocol):
    """Ranks logged invokes by how much a human look at them is worth.

    ``invokes`` is a DataFrame with one row per candidate (``invoke_id``, ``label``, ``confidence``,
    ``margin``: top-1 minus top-2 probability, ``embedding``: the logged vector or None, ``flag``:
    the reason a caller flagged it, or None);
    ``mistakes`` holds the embeddings of invokes a reviewer corrected (None when there are none).
    ``score`` returns one priority per row, higher first (NaN: never pick), and ``reason`` says in
    a few words why a row was picked (shown in the queue)."""

    def score(self, invokes: Any, mistakes: Any) -> Any: ...

    def reason(self, row: Any) -> str: ...


class DriftDetector(Protocol):
    """Compares a reference window with a recent one: a mapping with at least ``drift`` (bool),
    ``statistic`` and ``p_value`` or ``threshold`` (the monitoring loop calls detectors)."""

    def compare(self, reference: Any, current: Any) -> Mapping[str, Any]: ...
