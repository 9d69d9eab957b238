import numpy as np
import pandas as pd
import pytest

from automl.config.schema import DataConfig
from automl.data.content_id import row_content_id
from automl.data.splits import stratified_folds
from automl.data.table import build_table
from automl.errors import UserError
from automl.plugins.components import LoadResult


def result(frame: pd.DataFrame) -> LoadResult:
    return LoadResult(frame, list(range(len(frame))))


def frame(n: int = 20) -> pd.DataFrame:
    return pd.DataFrame({"x": np.arange(n, dtype=float), "c": ["a", "b"] * (n // 2), "y": ["p", "q"] * (n // 2)})


def test_content_id_is_the_same_for_39_and_39_point_0_and_differs_by_value() -> None:
    assert row_content_id([39, "x", None]) == row_content_id([39.0, "x", float("nan")])
    assert row_content_id([39, "x"]) != row_content_id([40, "x"])


def test_table_keeps_recipe_column_order_and_classes() -> None:
    table = build_table(result(frame()), DataConfig(target="y", features=["c", "x"]), min_per_class=2)
    assert list(table.features.columns) == ["c", "x"]
    assert table.classes == ["p", "q"]
    assert table.y.tolist()[:2] == [0, 1]
    assert len(set(table.ids)) == len(table)


def test_missing_and_unknown_labels_are_reported_with_their_row() -> None:
    f = frame()
    f.loc[3, "y"] = None
    f.loc[4, "y"] = "r"
    table = build_table(result(f), DataConfig(target="y", labels=["p", "q"], max_bad_fraction=0.2), min_per_class=2)
    assert len(table) == 18
    assert [(b.source, b.reason) for b in table.skipped] == [
        ("row 3", "missing label in column 'y'"),
        ("row 4", "label 'r' is not in data.labels"),
    ]


def test_too_many_bad_rows_fail_the_run() -> None:
    f = frame()
    f.loc[:5, "y"] = None
    with pytest.raises(UserError, match="6 of 20 rows are unusable, more than data.max_bad_fraction=0.05"):
        build_table(result(f), DataConfig(target="y"), min_per_class=2)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (DataConfig(target="yy"), "no column 'yy' in the data \\(did you mean 'y'\\?\\)"),
        (DataConfig(target="y", drop=["z"]), "data.drop: no column 'z'"),
        (DataConfig(target="y", features=["y"]), "no feature columns"),
    ],
)
def test_column_errors_name_the_key(data: DataConfig, message: str) -> None:
    with pytest.raises(UserError, match=message):
        build_table(result(frame()), data, min_per_class=2)


def test_single_class_and_rare_class_errors() -> None:
    f = frame()
    f["y"] = "p"
    with pytest.raises(UserError, match="single class"):
        build_table(result(f), DataConfig(target="y"), min_per_class=2)
    f.loc[0, "y"] = "q"
    with pytest.raises(UserError, match="class 'q' has 1 row\\(s\\), fewer than eval.cv_folds=5"):
        build_table(result(f), DataConfig(target="y"), min_per_class=5)


def test_folds_are_stratified_and_seeded() -> None:
    y = np.array([0] * 30 + [1] * 10)
    folds = stratified_folds(y, 5, seed=3)
    assert (folds == stratified_folds(y, 5, seed=3)).all()
    for k in range(5):
        assert (y[folds == k] == 1).sum() == 2
