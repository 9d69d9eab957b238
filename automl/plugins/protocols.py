"""What the core calls on the objects a component's factory returns, one protocol per kind.

Trainers build an ``Estimator`` and backbones an ``Embedder`` (both in ``components``), serving
backends adapt the core's request pipeline (``serving``); the rest are here. The core never checks
these with ``isinstance``: they document the contract, and type checkers hold plugins to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol


class Exporter(Protocol):
    """What ``deploy.export: NAME`` builds: writes an optimized copy of a fitted model.

    ``export`` writes into ``folder`` and returns a report (a dataclass or a mapping) with at least
    ``exported`` (bool) and, when it did not export, ``reason`` (one line); ``max_abs_diff`` and
    ``same_label_rate`` say how well the copy agrees with the native model on ``inputs``.
    """

    def export(self, model: Any, inputs: Any, folder: Path, **options: Any) -> Any: ...


class Sampler(Protocol):
    """Picks logged invokes worth a human look: returns at most ``n`` invoke ids, best first.
    (The review loop calls samplers; see the issue "The ML loop, part 1".)"""

    def select(self, invokes: Any, n: int) -> Sequence[str]: ...


class DriftDetector(Protocol):
    """Compares a reference window with a recent one: a mapping with at least ``drift`` (bool),
    ``statistic`` and ``p_value`` or ``threshold`` (the monitoring loop calls detectors)."""

    def compare(self, reference: Any, current: Any) -> Mapping[str, Any]: ...
