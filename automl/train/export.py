"""Export the refit model with the recipe's exporter (``deploy.export``), before it is registered.

The exporter writes its files into a folder of the run, checks them against the native model on
``deploy.export_check_rows`` examples, and reports; the folder becomes the version's ``export/``
and the report goes into the version's metadata and the run's summary. A model the exporter
cannot export (or an exporter that fails) keeps its native form only, and the run says why on
stderr and in the report: the trained model is never lost to an export problem.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from automl.config.validate import CheckedRecipe
from automl.data.table import ExampleTable
from automl.plugins.manager import Plugins


@dataclass(frozen=True)
class ExportOutcome:
    report: dict[str, Any]
    folder: Path | None  # the exported files, when the export succeeded


def check_rows(folds: np.ndarray, rows: int, seed: int) -> np.ndarray:
    """Up to ``rows`` row indices of the first validation fold, sorted."""
    held = np.flatnonzero(folds == 0)
    return np.sort(np.random.default_rng(seed).choice(held, size=min(rows, len(held)), replace=False))


def check_inputs(table: ExampleTable, chosen: np.ndarray) -> Any:
    """The examples at ``chosen`` as the model's ``predict`` takes them: a table's feature rows, or
    the image paths / texts."""
    features = table.features.iloc[chosen].reset_index(drop=True)
    return features if "input" not in features.columns else features["input"].tolist()


def _optional_arguments(export: Any, offered: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments among ``offered`` that the exporter's ``export`` declares."""
    try:
        parameters = inspect.signature(export).parameters
    except (TypeError, ValueError):
        return {}
    return {k: v for k, v in offered.items() if k in parameters}


def _as_dict(report: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(report) and not isinstance(report, type):
        data = dataclasses.asdict(report)
    elif isinstance(report, dict):
        data = dict(report)
    else:
        raise TypeError(f"an exporter must report a dataclass or a dict, not {type(report).__name__}")
    if not isinstance(data.get("exported"), bool):
        raise TypeError("an exporter's report needs a bool 'exported'")
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in data.items()}


def cache_dir(workspace: Path) -> Path:
    """Where exporters keep what later exports reuse (converted backbone networks)."""
    return workspace / "cache" / "exports"


def _exporter(checked: CheckedRecipe, plugins: Plugins) -> Any:
    spec = plugins.registries["exporter"].get(str(checked.recipe.deploy.export))
    assert spec.factory is not None
    return spec.factory(checked.export_options)


def expected_export_s(
    checked: CheckedRecipe,
    plugins: Plugins,
    views: dict[str, Any],
    workspace: Path,
    forward_rates: dict[str, float] | None = None,
    n_rows: int | None = None,
) -> float:
    """The seconds an export may take beyond the usual reserve, for a model over any of ``views``:
    what the exporter expects for itself (``expected_seconds``, e.g. converting a backbone the first
    time; none without it), plus its check, which runs the copy over the check rows (at most
    ``deploy.export_check_rows`` of the first fold of ``n_rows`` examples; the native side comes
    from the embedding cache), at the slowest backbone's ``forward_rates`` (examples/s). The run
    holds them back from its search so the export ends within the budget."""
    recipe = checked.recipe
    if recipe.deploy.export is None:
        return 0.0
    rates = [rate for rate in (forward_rates or {}).values() if rate > 0]
    fold = recipe.deploy.export_check_rows if n_rows is None else -(-n_rows // recipe.eval.cv_folds)
    check_s = min(recipe.deploy.export_check_rows, fold) / min(rates) if rates else 0.0
    try:
        exporter = _exporter(checked, plugins)
        if not hasattr(exporter, "expected_seconds"):
            return check_s
        return check_s + float(exporter.expected_seconds(list(views.values()), cache_dir(workspace)))
    except Exception as err:  # noqa: BLE001 - an estimate must not stop the run; the export says more
        name = checked.recipe.deploy.export
        print(f"warning: the {name} exporter could not estimate its time: {err}", file=sys.stderr)
        return check_s


def reference_outputs(
    model: Any, views: dict[str, Any], chosen: np.ndarray, n_rows: int
) -> tuple[np.ndarray, Any] | None:
    """The native model's probabilities and logged embedding on the rows ``chosen``, from the run's
    view matrices (``views``: view key -> X over every example), where a member reads a backbone's
    embeddings: the embedding cache already holds what the backbone gives for those inputs. None
    for tables (the native model is cheap to run) or when a view is missing."""
    from automl.evaluate.cv import rows
    from automl.features.views import EmbeddingView

    keys = list(dict.fromkeys(m.view for m in model.members))
    if not keys or any(k not in views or len(views[k]) != n_rows for k in keys):
        return None
    if not any(isinstance(model.views[k], EmbeddingView) for k in keys):
        return None
    mask = np.zeros(n_rows, dtype=bool)
    mask[chosen] = True
    built = {k: rows(views[k], mask) for k in keys}
    logged = model.logged_view()
    embedding = None if logged is None else np.asarray(built[logged], dtype=np.float32)
    return np.asarray(model.predict_proba_views(built), dtype=np.float64), embedding


def export_model(
    checked: CheckedRecipe,
    plugins: Plugins,
    model: Any,
    table: ExampleTable,
    folds: np.ndarray,
    run_dir: Path,
    log: TextIO | None = None,
    workspace: Path | None = None,
    seconds_left: float | None = None,
    views: dict[str, Any] | None = None,
) -> ExportOutcome | None:
    """Run the recipe's exporter on ``model``, checked on ``deploy.export_check_rows`` examples of
    the first fold; None when the recipe asks for no export. An exporter's ``export`` gets, where
    it declares them: ``labels`` and ``metric`` (those examples' class indices and the recipe's
    metric, e.g. to bound a quantized model's change in that metric), ``cache_dir`` (the
    workspace's export cache), ``seconds_left`` (what the time budget leaves; None: no limit) and
    ``reference`` (the native model's outputs on the check rows from the run's ``views``, where a
    member reads a backbone's cached embeddings: the check then runs no backbone)."""
    recipe = checked.recipe
    name = recipe.deploy.export
    if name is None:
        return None
    chosen = check_rows(folds, recipe.deploy.export_check_rows, recipe.seed)
    inputs, labels = check_inputs(table, chosen), table.y[chosen]
    folder = run_dir / "export"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        exporter = _exporter(checked, plugins)
        offered = {
            "labels": labels,
            "metric": plugins.metrics.get(recipe.eval.metric),
            "cache_dir": None if workspace is None else cache_dir(workspace),
            "seconds_left": seconds_left,
            "reference": None if views is None else reference_outputs(model, views, chosen, len(folds)),
        }
        extra = _optional_arguments(exporter.export, offered)
        report = _as_dict(exporter.export(model, inputs, folder, **extra))
    except Exception as err:  # an exporter's bug must not lose the trained model: report it
        where = traceback.extract_tb(err.__traceback__)[-1]
        reason = f"the {name} exporter failed: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''} "
        reason += f"({Path(where.filename).name}:{where.lineno})"
        report = {"exported": False, "reason": reason}
    report = {"exporter": name, **report}
    if report["exported"]:
        diff = report.get("max_abs_diff")
        same = report.get("same_label_rate")
        detail = ", ".join(
            part
            for part in (
                f"max |p - p_native| {diff:.2e}" if isinstance(diff, float) else "",
                f"same label on {same:.1%}" if isinstance(same, float) else "",
            )
            if part
        )
        print(f"exported with {name}" + (f": {detail}" if detail else ""), file=log or sys.stderr)
        return ExportOutcome(report, folder)
    # deploy.export: auto tries every model; one it cannot export is expected there, not a warning
    by_default = checked.defaults is not None and "deploy.export" in checked.defaults.filled
    prefix = "note: kept native, not exported" if by_default else "warning: not exported"
    print(f"{prefix} with {name}: {report.get('reason') or 'no reason given'}", file=log or sys.stderr)
    return ExportOutcome(report, None)
