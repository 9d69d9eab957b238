"""Export the refit model with the recipe's exporter (``deploy.export``), before it is registered.

The exporter writes its files into a folder of the run, checks them against the native model on
``deploy.export_check_rows`` examples, and reports; the folder becomes the version's ``export/``
and the report goes into the version's metadata and the run's summary. A model the exporter
cannot export (or an exporter that fails) keeps its native form only, and the run says why on
stderr and in the report: the trained model is never lost to an export problem.
"""

from __future__ import annotations

import dataclasses
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from automl.config.validate import CheckedRecipe
from automl.data.table import ExampleTable
from automl.plugins.manager import Plugins


@dataclass(frozen=True)
class ExportOutcome:
    report: dict[str, Any]
    folder: Path | None  # the exported files, when the export succeeded


def check_inputs(table: ExampleTable, folds: np.ndarray, rows: int, seed: int) -> Any:
    """Up to ``rows`` examples of the first validation fold, as the model's ``predict`` takes them:
    a table's feature rows, or the image paths / texts."""
    held = np.flatnonzero(folds == 0)
    chosen = np.sort(np.random.default_rng(seed).choice(held, size=min(rows, len(held)), replace=False))
    features = table.features.iloc[chosen].reset_index(drop=True)
    return features if "input" not in features.columns else features["input"].tolist()


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


def export_model(
    checked: CheckedRecipe, plugins: Plugins, model: Any, inputs: Any, run_dir: Path
) -> ExportOutcome | None:
    """Run the recipe's exporter on ``model``; None when the recipe asks for no export."""
    name = checked.recipe.deploy.export
    if name is None:
        return None
    spec = plugins.registries["exporter"].get(name)
    assert spec.factory is not None
    folder = run_dir / "export"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        report = _as_dict(spec.factory(checked.export_options).export(model, inputs, folder))
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
        print(f"exported with {name}" + (f": {detail}" if detail else ""), file=sys.stderr)
        return ExportOutcome(report, folder)
    print(f"warning: not exported with {name}: {report.get('reason') or 'no reason given'}", file=sys.stderr)
    return ExportOutcome(report, None)
