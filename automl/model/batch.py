"""``automl predict``: read a file of inputs, predict in-process, write labels and probabilities."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from automl.data.files import read_table
from automl.data.images import is_image_file
from automl.data.table import PROBA_PREFIX
from automl.errors import UserError
from automl.model.predictor import Predictor, load

WRITERS = {".csv": "to_csv", ".parquet": "to_parquet"}


def _media_inputs(predictor: Predictor, path: Path) -> list[str]:
    """Image paths from a folder (recursively) or a table; texts from a table's text column."""
    if predictor.task == "image_classification" and path.is_dir():
        images = sorted(str(p) for p in path.rglob("*") if is_image_file(p))
        if not images:
            raise UserError(f"input={path}: no image files in that folder.")
        return images
    column = predictor.meta.input_column or ("text" if predictor.task == "text_classification" else "image")
    frame = read_table(path, "input")
    if column not in frame.columns:
        raise UserError(f"input={path}: no column '{column}' (the model reads its inputs from it).")
    values = frame[column].tolist()
    if predictor.task == "image_classification":
        return [v if Path(str(v)).is_absolute() else str(path.parent / str(v)) for v in values]
    return ["" if v is None or v != v else str(v) for v in values]


def predict_file(ref: str, input_path: str, output_path: str, workspace: str | None) -> dict[str, Any]:
    out = Path(output_path)
    writer = WRITERS.get(out.suffix.lower())
    if writer is None:
        raise UserError(f"output={output_path}: use a .csv or .parquet file.")
    predictor = load(ref, workspace)
    source = Path(input_path)
    if not source.exists():
        raise UserError(f"input={input_path}: no such file or folder.")
    tabular = predictor.task == "tabular_classification"
    inputs = read_table(source, "input") if tabular else _media_inputs(predictor, source)
    proba = predictor.predict_proba(inputs)
    result = proba.rename(columns={c: f"{PROBA_PREFIX}{c}" for c in proba.columns}).reset_index(drop=True)
    result.insert(0, "predicted", predictor.predict(inputs))
    if predictor.task != "tabular_classification":
        result.insert(0, "input", inputs)
    result.insert(0, "row", range(len(result)))
    out.parent.mkdir(parents=True, exist_ok=True)
    getattr(result, writer)(out, index=False)
    return {"model": f"{predictor.name}:{predictor.version}", "rows": len(result), "output": str(out)}
