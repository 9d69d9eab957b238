"""Tabular preprocessing: a feature schema fixed at training time, and the searchable
imputation / scaling / encoding steps trainers put in front of their model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from automl.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

    from automl.plugins.components import TrainContext

MAX_ONEHOT_CATEGORIES = 32
MAX_ORDINAL_CATEGORIES = 250


@dataclass(frozen=True)
class FeatureSchema:
    """The feature columns in recipe order, split into numeric and categorical."""

    columns: tuple[str, ...]
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]

    @classmethod
    def infer(cls, frame: pd.DataFrame) -> FeatureSchema:
        import pandas as pd

        numeric = tuple(c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]))
        categorical = tuple(c for c in frame.columns if c not in numeric)
        return cls(tuple(frame.columns), numeric, categorical)

    def coerce(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The frame's feature columns as training saw them: numbers as float64, categories as
        strings with NaN for missing. Missing columns are an error; extra columns are ignored."""
        import pandas as pd

        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise UserError(f"input is missing feature column(s): {', '.join(missing)}")
        out = pd.DataFrame(index=frame.index)
        for c in self.columns:
            if c in self.numeric:
                values = pd.to_numeric(frame[c], errors="coerce")
                out[c] = values.astype("float64")
            else:
                col = frame[c]
                if pd.api.types.is_numeric_dtype(col):  # numbers given for a category (and NaN)
                    col = col.map(category_text)
                out[c] = np.where(col.isna(), np.nan, col.astype(str)).astype(object)
        return out

    def canonical_rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Row dicts with each category given as a number written as :func:`category_text`
        writes it, so a row means the same as a one-row DataFrame of it, whatever the other rows
        hold (a DataFrame turns 94110 into 94110.0 when another row of the column is null)."""
        categorical = [c for c in self.categorical if any(not isinstance(r.get(c), str | None) for r in rows)]
        if not categorical:
            return rows
        return [{**row, **{c: category_text(row.get(c)) for c in categorical}} for row in rows]


def category_text(value: Any) -> str | None:
    """A category's text: a string as given; a number as written without a float's ``.0`` when
    it is whole (94110 and 94110.0 are both "94110", as the CSV the model learnt from wrote it);
    None for missing."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def make_preprocessor(
    ctx: TrainContext, impute: str | None = "median", scale: bool = False, categorical: str = "onehot"
) -> Any:
    """A ColumnTransformer over the context's numeric and categorical columns, output as a
    DataFrame that keeps the column names.

    ``impute``: ``median`` or ``mean`` (with missing-value indicators), or None to pass NaN on to
    models that handle it. ``categorical``: ``onehot`` (capped at the most frequent categories)
    or ``ordinal`` (codes, unknown and missing as NaN, for trees and native categoricals).
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    steps = []
    if ctx.categorical_columns:
        if categorical == "onehot":
            encoder = make_pipeline(
                SimpleImputer(strategy="constant", fill_value="__missing__"),
                OneHotEncoder(
                    handle_unknown="infrequent_if_exist",
                    max_categories=MAX_ONEHOT_CATEGORIES,
                    sparse_output=False,
                ),
            )
        elif categorical == "ordinal":
            encoder = OrdinalEncoder(
                handle_unknown="use_encoded_value",
                unknown_value=np.nan,
                encoded_missing_value=np.nan,
                max_categories=MAX_ORDINAL_CATEGORIES,
            )
        else:
            raise ValueError(f"categorical must be 'onehot' or 'ordinal', got {categorical!r}")
        steps.append(("categorical", encoder, list(ctx.categorical_columns)))
    if ctx.numeric_columns:
        numeric_steps: list[Any] = []
        if impute is not None:
            numeric_steps.append(SimpleImputer(strategy=impute, add_indicator=True, keep_empty_features=True))
        if scale:
            numeric_steps.append(StandardScaler())
        numeric = make_pipeline(*numeric_steps) if numeric_steps else "passthrough"
        steps.append(("numeric", numeric, list(ctx.numeric_columns)))
    transformer = ColumnTransformer(steps, remainder="drop", verbose_feature_names_out=False)
    return transformer.set_output(transform="pandas")
