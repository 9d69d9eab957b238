"""Built-in tabular loaders: CSV, Parquet, and a DuckDB SQL query over files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

from automl.errors import UserError
from automl.plugins.components import LoaderSpec, LoadRequest, LoadResult
from automl.plugins.markers import hookimpl


@dataclass
class CsvOptions:
    sep: str = ","
    encoding: str = "utf-8"
    na_values: list[str] = field(default_factory=lambda: ["", "?", "NA", "N/A", "NaN", "null"])


@dataclass
class ParquetOptions:
    pass


@dataclass
class DuckdbOptions:
    # The SQL to run; when data.path is set, that file (or glob) is the view `data`.
    query: Optional[str] = None  # noqa: UP045 (OmegaConf reads this annotation)


def _result(frame: Any) -> LoadResult:
    frame = frame.reset_index(drop=True)
    return LoadResult(frame=frame, sources=list(range(len(frame))))


def load_csv(request: LoadRequest) -> LoadResult:
    import pandas as pd

    opts: CsvOptions = request.options
    try:
        frame = pd.read_csv(
            request.path,
            sep=opts.sep,
            encoding=opts.encoding,
            na_values=list(opts.na_values),
            keep_default_na=True,
            skipinitialspace=True,
        )
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise UserError(f"data.path: cannot read {request.path} as CSV: {str(err).splitlines()[0]}") from None
    return _result(frame)


def _duckdb_frame(sql: str, path: str | None) -> Any:
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        if path:
            con.execute("CREATE VIEW data AS SELECT * FROM " + _quote(path))
        return con.execute(sql).df()
    except duckdb.Error as err:
        raise UserError(f"data: DuckDB could not run the query: {str(err).splitlines()[0]}") from None
    finally:
        con.close()


def _quote(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


def load_parquet(request: LoadRequest) -> LoadResult:
    path = str(request.path)
    return _result(_duckdb_frame(f"SELECT * FROM read_parquet({_quote(path)})", None))


def load_duckdb(request: LoadRequest) -> LoadResult:
    opts: DuckdbOptions = request.options
    if not opts.query:
        raise UserError('data.options.query is required by the duckdb loader, e.g. "SELECT * FROM data".')
    return _result(_duckdb_frame(opts.query, str(request.path) if request.path else None))


@hookimpl
def register_loaders(register: Callable[[LoaderSpec], None]) -> None:
    register(LoaderSpec(name="csv", config_cls=CsvOptions, load=load_csv, description="A CSV file with a header row."))
    register(
        LoaderSpec(
            name="parquet", config_cls=ParquetOptions, load=load_parquet, description="Parquet file(s); globs work."
        )
    )
    register(
        LoaderSpec(
            name="duckdb",
            config_cls=DuckdbOptions,
            load=load_duckdb,
            needs_path=False,
            description="A DuckDB SQL query (data.options.query); data.path, if set, is the view `data`.",
        )
    )
