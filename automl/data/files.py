"""Reading a table of examples from a file (CSV, Parquet or JSON Lines): one reader for the text and
image-table loaders and for ``automl predict``, so both accept the same files with the same errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from automl.errors import UserError

TABLE_READERS = {".csv": "read_csv", ".parquet": "read_parquet", ".jsonl": "read_json", ".json": "read_json"}


def read_table(path: Path, key: str) -> Any:
    """The file as a DataFrame; a missing, unsupported or unreadable file is a one-line
    :class:`UserError` that starts with ``key`` (the recipe key or argument that named it)."""
    import pandas as pd

    reader = TABLE_READERS.get(path.suffix.lower())
    if reader is None:
        raise UserError(f"{key}: {path} is not a .csv, .parquet or .jsonl file.")
    if not path.is_file():
        raise UserError(f"{key}: no such file: {path}")
    kwargs: dict[str, Any] = {"lines": True} if reader == "read_json" else {}
    try:
        return getattr(pd, reader)(path, **kwargs)
    except (ValueError, OSError, pd.errors.ParserError) as err:
        raise UserError(f"{key}: cannot read {path}: {str(err).splitlines()[0]}") from None
