from pathlib import Path

import pandas as pd
import pytest

from automl.builtin import loaders, metrics, trainers
from automl.builtin.loaders import CsvOptions, DuckdbOptions, ParquetOptions
from automl.plugins.components import LoadRequest
from automl.testing import check_loader, check_metric, check_trainer, specs_of

TRAINERS = {s.name: s for s in specs_of(trainers, "register_trainers")}
METRICS = {s.name: s for s in specs_of(metrics, "register_metrics")}
LOADERS = {s.name: s for s in specs_of(loaders, "register_loaders")}


@pytest.mark.parametrize("name", sorted(TRAINERS))
def test_builtin_trainer_conforms(name: str) -> None:
    check_trainer(TRAINERS[name])


@pytest.mark.parametrize("name", sorted(METRICS))
def test_builtin_metric_conforms(name: str) -> None:
    check_metric(METRICS[name])


def test_tabular_loaders_read_the_same_rows(tmp_path: Path, small_csv: Path) -> None:
    frame = pd.read_csv(small_csv)
    frame.to_parquet(tmp_path / "small.parquet")
    requests = {
        "csv": LoadRequest("tabular_classification", small_csv, "label", CsvOptions()),
        "parquet": LoadRequest("tabular_classification", tmp_path / "small.parquet", "label", ParquetOptions()),
        "duckdb": LoadRequest(
            "tabular_classification",
            tmp_path / "small.parquet",
            "label",
            DuckdbOptions(query="SELECT * FROM data WHERE city IS NULL OR city <> 'oslo'"),
        ),
    }
    expected = {"csv": len(frame), "parquet": len(frame), "duckdb": int((frame.city != "oslo").sum())}
    for name, request in requests.items():
        check_loader(LOADERS[name], request, lambda f, n=name: _same_length(f, expected[n]))


def _same_length(frame: pd.DataFrame, n: int) -> None:
    assert len(frame) == n
