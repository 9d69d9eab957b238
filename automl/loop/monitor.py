"""``monitor``: has what a model sees, or what it says, moved away from a reference?

Inputs: each tabular column with the test its kind and the sample size call for (KS for numbers,
chi-square for categories, a z-test for two values; above ``monitor.large_sample`` invokes a
distance instead: normed Wasserstein, Jensen-Shannon), and for images and texts the logged
embeddings (MMD with a permutation test). Outputs: the predicted-class balance (chi-square) and
the confidence (KS). Every p-value is Holm-corrected so that the whole report raises a false alarm
at most ``monitor.alpha`` of the time. Detectors are chosen by registered name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from automl.config.schema import MonitorConfig
from automl.config.validate import check_monitor, typed_options
from automl.loop.reference import training_reference
from automl.loop.windows import Sample, invoke_time_windows, invoke_windows
from automl.plugins.manager import Plugins
from automl.registry.meta import BundleMeta
from automl.registry.refs import ModelRef
from automl.registry.store import ModelStore

INPUT, OUTPUT = "input", "output"


@dataclass(frozen=True)
class Check:
    """One comparison of reference and current; ``p_value`` is Holm-corrected over the report."""

    name: str
    kind: str  # input | output
    detector: str
    statistic: float
    p_value: float | None
    threshold: float | None
    drift: bool
    reference_n: int
    current_n: int


@dataclass(frozen=True)
class DriftReport:
    model: str
    version: int
    reference: str
    current: str
    alpha: float
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    first: str | None = None  # the current window's first and last invoke (UTC)
    last: str | None = None
    class_balance: dict[str, dict[str, float]] = field(default_factory=dict)  # side -> class -> share
    disagreement: list[dict[str, Any]] = field(default_factory=list)  # per predicted class and UTC day

    @property
    def drifted(self) -> list[Check]:
        return [c for c in self.checks if c.drift]

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "drift": bool(self.drifted)}


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error control), in the given order."""
    order = np.argsort(p_values)
    adjusted = np.empty(len(p_values))
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted.tolist()


class Detectors:
    """Registered drift detectors by name, built once with the monitor's options."""

    def __init__(self, plugins: Plugins, config: MonitorConfig) -> None:
        self.registry = plugins.registries["drift_detector"]
        self.options = {"threshold": config.distance_threshold, "permutations": config.permutations, "seed": 0}
        self.built: dict[str, Any] = {}

    def compare(self, name: str, reference: Any, current: Any) -> Mapping[str, Any]:
        if name not in self.built:
            from automl.plugins.registry import require

            spec = require(self.registry, name, "monitor detector")
            fields = {f.name for f in dataclasses.fields(spec.config_cls)}
            options = typed_options(spec.config_cls, {k: v for k, v in self.options.items() if k in fields}, name)
            assert spec.factory is not None
            self.built[name] = spec.factory(options)
        return self.built[name].compare(reference, current)


def column_detector(reference: pd.Series, current: pd.Series, config: MonitorConfig) -> str:
    """The detector for one column, by its kind in the reference and the smaller sample's size."""
    large = min(len(reference), len(current)) > config.large_sample
    values = reference.nunique()
    numeric = pd.api.types.is_numeric_dtype(reference) and values > 2
    if numeric:
        return config.numeric_test or ("wasserstein" if large else "ks")
    return config.categorical_test or ("jensen_shannon" if large else "z_test" if values == 2 else "chi2")


def _raw(name: str, kind: str, detector: str, result: Mapping[str, Any], n_ref: int, n_cur: int) -> Check:
    return Check(
        name, kind, detector, float(result["statistic"]), result.get("p_value"), result.get("threshold"),
        bool(result.get("drift")), n_ref, n_cur,
    )  # fmt: skip


def compare(reference: Sample, current: Sample, config: MonitorConfig, detectors: Detectors) -> list[Check]:
    """Every check of ``current`` against ``reference``, p-values Holm-corrected, drift decided."""
    checks: list[Check] = []
    if reference.columns is not None and current.columns is not None:
        for column in reference.columns.columns:
            ref = reference.columns[column].dropna()
            cur = current.columns[column].dropna() if column in current.columns else pd.Series(dtype=object)
            if len(ref) < config.min_invokes or len(cur) < config.min_invokes:
                continue
            if pd.api.types.is_numeric_dtype(ref):
                cur = pd.to_numeric(cur, errors="coerce").dropna()
            name = column_detector(ref, cur, config)
            checks.append(_raw(str(column), INPUT, name, detectors.compare(name, ref, cur), len(ref), len(cur)))
    if reference.embeddings is not None and current.embeddings is not None:
        name = config.embedding_test
        result = detectors.compare(name, reference.embeddings, current.embeddings)
        checks.append(_raw("embeddings", INPUT, name, result, len(reference.embeddings), len(current.embeddings)))
    checks.append(
        _raw("predicted class", OUTPUT, "chi2", detectors.compare("chi2", reference.labels, current.labels),
             len(reference), len(current))
    )  # fmt: skip
    ref_conf, cur_conf = (
        reference.confidence[~np.isnan(reference.confidence)],
        current.confidence[~np.isnan(current.confidence)],
    )
    if len(ref_conf) >= config.min_invokes and len(cur_conf) >= config.min_invokes:
        checks.append(
            _raw("confidence", OUTPUT, "ks", detectors.compare("ks", ref_conf, cur_conf), len(ref_conf), len(cur_conf))
        )
    tested = [i for i, c in enumerate(checks) if c.p_value is not None]
    adjusted = holm([float(checks[i].p_value) for i in tested])  # type: ignore[arg-type]
    for i, p in zip(tested, adjusted, strict=True):
        checks[i] = dataclasses.replace(checks[i], p_value=p, drift=p <= config.alpha)
    return checks


def _balance(sample: Sample) -> dict[str, float]:
    values, counts = np.unique(sample.labels, return_counts=True)
    return {str(v): float(c / counts.sum()) for v, c in zip(values, counts, strict=True)}


def disagreement(workspace: Path, model: str) -> list[dict[str, Any]]:
    """How often reviewers gave another label than the model's, per predicted class and per UTC
    day of sampling: ``{"day", "predicted", "reviewed", "disagreed", "rate"}`` rows."""
    from automl.store.reviews import ReviewStore

    reviews = ReviewStore(workspace)
    if not reviews.path.exists():
        return []
    rows = [
        {"day": item.sampled_at.date().isoformat(), "predicted": item.predicted, "changed": label != item.predicted}
        for item, label in reviews.reviewed(model)
    ]
    if not rows:
        return []
    table = pd.DataFrame(rows).groupby(["day", "predicted"])["changed"].agg(["count", "sum"]).reset_index()
    return [
        {"day": r.day, "predicted": r.predicted, "reviewed": int(r.count), "disagreed": int(r.sum),
         "rate": round(float(r.sum) / float(r.count), 4)}
        for r in table.itertuples()
    ]  # fmt: skip


def monitor_config(meta: BundleMeta, overrides: Mapping[str, Any]) -> MonitorConfig:
    """The production version's recipe's ``monitor:`` section (defaults for a version trained
    before it existed), with the command's overrides."""
    values = {**dict(meta.recipe.get("monitor") or {}), **overrides}
    config = typed_options(MonitorConfig, values, "monitor")
    check_monitor(config)
    assert isinstance(config, MonitorConfig)
    return config


def monitor(workspace: Path, ref: str, plugins: Plugins, overrides: Mapping[str, Any] | None = None) -> DriftReport:
    """Compare ``ref``'s recent invokes with its reference (see the module's docstring)."""
    store = ModelStore(workspace)
    name, version = store.resolve(ModelRef.parse(ref))
    meta = store.meta(name, version)
    config = monitor_config(meta, overrides or {})
    tabular = meta.task == "tabular_classification"
    notes: list[str] = []
    by_window = config.reference == "window"
    if config.window_hours is not None:
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        hours = config.window_hours
        current, reference = invoke_time_windows(workspace, name, hours, hours if by_window else None, tabular, now)
    else:
        before = (config.reference_window or config.window) if by_window else None
        current, reference = invoke_windows(workspace, name, config.window, before, tabular)
    if not by_window:
        found = training_reference(workspace, meta, plugins)
        reference, notes = found.sample, list(found.missing)
    source = reference.source if reference else "none"
    reviewed = disagreement(workspace, name)
    base = DriftReport(name, version, source, current.source, config.alpha, notes=notes, disagreement=reviewed)
    if len(current) < config.min_invokes:
        note = f"{len(current)} invokes of {name}: too few to compare (monitor.min_invokes={config.min_invokes})"
        return dataclasses.replace(base, notes=[*notes, note])
    if reference is None or len(reference) < config.min_invokes:
        note = "no reference to compare with" + ("" if reference is None else f" ({len(reference)} examples)")
        return dataclasses.replace(base, notes=[*notes, note])
    checks = compare(reference, current, config, Detectors(plugins, config))
    times = sorted(current.times)
    return dataclasses.replace(
        base,
        checks=checks,
        first=times[0].isoformat(sep=" ", timespec="seconds") if times else None,
        last=times[-1].isoformat(sep=" ", timespec="seconds") if times else None,
        class_balance={"reference": _balance(reference), "current": _balance(current)},
    )
