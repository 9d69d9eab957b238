"""``automl predict``: read a file of inputs, predict in-process, write labels and probabilities."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from automl.data.table import PROBA_PREFIX
from automl.errors import UserError
from automl.predictor import load

READERS = {".csv": "read_csv", ".parquet": "read_parquet", ".jsonl": "read_json"}
WRITERS = {".csv": "to_csv", ".parquet": "to_parquet"}


def read_inputs(path: Path) -> Any:
    import pandas as pd

    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise UserError(f"input={path}: use a .csv, .parquet or .jsonl file.")
    if not path.is_file():
        raise UserError(f"input={path}: no such file.")
    kwargs: dict[str, Any] = {"lines": True} if reader == "read_json" else {}
    try:
        return getattr(pd, reader)(path, **kwargs)
    except (ValueError, pd.errors.ParserError, OSError) as err:
        raise UserError(f"input={path}: cannot read it: {str(err).splitlines()[0]}") from None


def predict_file(ref: str, input_path: str, output_path: str, workspace: str | None) -> dict[str, Any]:
    out = Path(output_path)
    writer = WRITERS.get(out.suffix.lower())
    if writer is None:
        raise UserError(f"output={output_path}: use a .csv or .parquet file.")
    predictor = load(ref, workspace)
    frame = read_inputs(Path(input_path))
    proba = predictor.predict_proba(frame)
    result = proba.rename(columns={c: f"{PROBA_PREFIX}{c}" for c in proba.columns})
    result.insert(0, "predicted", predictor.predict(frame))
    result.insert(0, "row", range(len(frame)))
    out.parent.mkdir(parents=True, exist_ok=True)
    getattr(result, writer)(out, index=False)
    return {"model": f"{predictor.name}:{predictor.version}", "rows": len(result), "output": str(out)}
