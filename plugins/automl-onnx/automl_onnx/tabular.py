"""Table rows as ONNX inputs, and the trainers' preprocessing (``automl.features.tabular``'s
``ColumnTransformer``) as ONNX nodes.

Inputs: one per feature column, named as the column (unless an output has that name), shape
``(N, 1)``: ``double`` for a numeric column (``FeatureSchema.coerce`` gives float64; NaN is
missing) and ``string`` for a categorical one (the empty string is missing, as NaN is in the
native model).

Numeric steps (``SimpleImputer`` with or without missing indicators, ``StandardScaler``) are
rebuilt from their fitted statistics. Categorical steps (encoders, with an imputer in front) are
read off the fitted transformer itself: it is applied to every known category, to a missing value
and to an unseen category, column by column, and the results become lookup tables (an
``ai.onnx.ml`` ``LabelEncoder`` to a row index, then ``Gather``). That covers ordinal and one-hot
encoding with infrequent categories exactly as scikit-learn computes them, and any other encoder
that treats each column on its own (checked on random rows; one that does not is refused).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from automl_onnx.graph import DOUBLE, ML, STRING, GraphBuilder, Unsupported

MISSING_STRING = ""  # what a categorical input holds for a missing value
_UNKNOWN_PROBE = "\uffff automl-onnx unseen category \uffff"


def add_table_inputs(g: GraphBuilder, schema: Any) -> tuple[dict[str, tuple[str, str]], list[dict[str, Any]]]:
    """One graph input per feature column; returns column -> (value, "double"|"string") and the
    inputs as the sidecar describes them."""
    values: dict[str, tuple[str, str]] = {}
    described = []
    for column in schema.columns:
        kind = "double" if column in schema.numeric else "string"
        # Named as the column, unless that is an output's name ("label"): model.json maps them.
        name = str(column) if g.available(str(column)) else g.fresh(f"{column}_input")
        g.input(name, DOUBLE if kind == "double" else STRING, [None, 1])
        values[column] = (name, kind)
        described.append(
            {
                "name": name,
                "column": column,
                "type": kind,
                "shape": [None, 1],
                "missing": "NaN" if kind == "double" else MISSING_STRING,
            }
        )
    return values, described


def split_pipeline(estimator: Any) -> tuple[list[tuple[str, Any]], Any]:
    """A scikit-learn Pipeline's preprocessing steps and final estimator (no steps for a bare one)."""
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline):
        steps = [(name, step) for name, step in estimator.steps if step not in (None, "passthrough")]
        return steps[:-1], steps[-1][1]
    return [], estimator


def table_features(
    g: GraphBuilder, steps: list[tuple[str, Any]], columns: dict[str, tuple[str, str]]
) -> tuple[str, int]:
    """The ``(N, F)`` double matrix a table member's final estimator sees."""
    from sklearn.compose import ColumnTransformer

    if not steps:
        strings = [c for c, (_, kind) in columns.items() if kind == "string"]
        if strings:
            raise Unsupported(f"the estimator takes the raw table, whose column(s) {strings[:3]} are strings")
        values = [value for value, _ in columns.values()]
        return (g.op("Concat", values, "table", axis=1) if len(values) > 1 else values[0]), len(values)
    if len(steps) > 1 or not isinstance(steps[0][1], ColumnTransformer):
        names = ", ".join(f"{name} ({type(step).__name__})" for name, step in steps)
        raise Unsupported(f"preprocessing steps {names}: only one ColumnTransformer is converted")
    return column_transformer(g, steps[0][1], columns)


def column_transformer(g: GraphBuilder, ct: Any, columns: dict[str, tuple[str, str]]) -> tuple[str, int]:
    blocks: list[str] = []
    width = 0
    for name, transformer, selected in ct.transformers_:
        if isinstance(transformer, str) and transformer == "drop":
            continue
        cols = _column_names(name, selected, list(columns))
        if not cols:
            continue
        unknown = [c for c in cols if c not in columns]
        if unknown:
            raise Unsupported(f"transformer {name} reads column(s) {unknown} that are not feature columns")
        kinds = {columns[c][1] for c in cols}
        if kinds == {"double"}:
            block, k = numeric_block(g, name, transformer, [columns[c][0] for c in cols])
        elif kinds == {"string"}:
            block, k = categorical_block(g, name, transformer, cols, [columns[c][0] for c in cols])
        else:
            raise Unsupported(f"transformer {name} mixes numeric and categorical columns")
        blocks.append(block)
        width += k
    if not blocks:
        raise Unsupported("the ColumnTransformer outputs no column")
    expected = len(ct.get_feature_names_out())
    if width != expected:
        raise Unsupported(f"the converted preprocessing gives {width} features, scikit-learn {expected}")
    return (g.op("Concat", blocks, "features", axis=1) if len(blocks) > 1 else blocks[0]), width


def _column_names(name: str, selected: Any, all_columns: list[str]) -> list[str]:
    if isinstance(selected, str):
        return [selected]
    items = list(np.atleast_1d(selected)) if selected is not None else []
    if all(isinstance(c, str) for c in items):
        return [str(c) for c in items]
    if items and all(isinstance(c, (bool, np.bool_)) for c in items) and len(items) == len(all_columns):
        return [c for c, keep in zip(all_columns, items, strict=True) if keep]
    if all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in items):
        return [all_columns[int(i)] for i in items]
    raise Unsupported(f"transformer {name} selects columns by {type(selected).__name__}")


# --- numeric ------------------------------------------------------------------------------------


def numeric_block(g: GraphBuilder, name: str, transformer: Any, values: list[str]) -> tuple[str, int]:
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    x = g.op("Concat", values, f"{name}_in", axis=1) if len(values) > 1 else values[0]
    k = len(values)
    steps = [s for _, s in transformer.steps] if isinstance(transformer, Pipeline) else [transformer]
    for step in steps:
        if step is None or (isinstance(step, str) and step == "passthrough"):
            continue
        if isinstance(step, FunctionTransformer) and step.func is None:  # a fitted "passthrough"
            continue
        if isinstance(step, SimpleImputer):
            x, k = _impute_numbers(g, name, step, x, k)
        elif isinstance(step, StandardScaler):
            if step.with_mean and step.mean_ is not None:
                x = g.op("Sub", [x, g.const(np.asarray(step.mean_, np.float64)[None, :], f"{name}_mean")])
            if step.with_std and step.scale_ is not None:
                x = g.op("Div", [x, g.const(np.asarray(step.scale_, np.float64)[None, :], f"{name}_scale")])
        else:
            raise Unsupported(f"numeric step {type(step).__name__} of transformer {name} has no ONNX conversion here")
    return x, k


def _impute_numbers(g: GraphBuilder, name: str, imputer: Any, x: str, k: int) -> tuple[str, int]:
    missing = imputer.missing_values
    if not (isinstance(missing, float) and math.isnan(missing)):
        raise Unsupported(f"imputer of transformer {name} treats {missing!r} as missing (only NaN is converted)")
    stats = np.asarray(imputer.statistics_, dtype=np.float64)
    if stats.shape != (k,):
        raise Unsupported(f"imputer of transformer {name} has {stats.shape} statistics for {k} columns")
    empty = np.isnan(stats)
    keep_all = imputer.strategy == "constant" or getattr(imputer, "keep_empty_features", False)
    fill = np.where(empty, 0.0, stats)
    out = g.op("Where", [g.op("IsNaN", [x]), g.const(fill[None, :], f"{name}_fill"), x], f"{name}_imputed")
    width = k
    if empty.any() and not keep_all:
        kept = np.flatnonzero(~empty).astype(np.int64)
        out = g.op("Gather", [out, g.const(kept, f"{name}_kept")], axis=1)
        width = len(kept)
    if imputer.add_indicator:
        features = np.asarray(imputer.indicator_.features_, dtype=np.int64)
        if len(features):
            flags = g.op("IsNaN", [g.op("Gather", [x, g.const(features, f"{name}_flagged")], axis=1)])
            out = g.op("Concat", [out, g.cast(flags, DOUBLE)], f"{name}_with_flags", axis=1)
            width += len(features)
    return out, width


# --- categorical --------------------------------------------------------------------------------


def _vocabulary(name: str, transformer: Any, n_columns: int) -> list[list[str]]:
    """The known categories of each column, from the last step that has ``categories_``."""
    steps = [s for _, s in transformer.steps] if hasattr(transformer, "steps") else [transformer]
    for step in reversed(steps):
        categories = getattr(step, "categories_", None)
        if categories is not None:
            if len(categories) != n_columns:
                raise Unsupported(f"transformer {name} has categories for {len(categories)} of {n_columns} columns")
            return [[c for c in column if isinstance(c, str)] for column in categories]
    raise Unsupported(f"categorical transformer {name} ({type(transformer).__name__}) has no categories_ to read")


def _transform(transformer: Any, frame: Any) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. "unknown categories will be encoded as all zeros"
        out = transformer.transform(frame)
    if hasattr(out, "toarray"):
        out = out.toarray()
    return np.asarray(out, dtype=np.float64)


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a == b) | (np.isnan(a) & np.isnan(b))


def categorical_block(
    g: GraphBuilder, name: str, transformer: Any, cols: list[str], values: list[str]
) -> tuple[str, int]:
    import pandas as pd

    vocab = _vocabulary(name, transformer, len(cols))
    base = {c: (v[0] if v else np.nan) for c, v in zip(cols, vocab, strict=True)}

    def frame(rows: list[dict[str, Any]]) -> Any:
        return pd.DataFrame(rows, columns=cols, dtype=object)

    base_out = _transform(transformer, frame([base]))[0]
    width = base_out.shape[0]
    # Row tables per column: the known categories, then missing, then unseen.
    tables: list[np.ndarray] = []
    owned: list[np.ndarray] = []
    for c, categories in zip(cols, vocab, strict=True):
        known = (
            _transform(transformer, frame([{**base, c: v} for v in categories])) if categories else np.zeros((0, width))
        )
        extra = []
        for probe in (np.nan, _UNKNOWN_PROBE):
            try:
                extra.append(_transform(transformer, frame([{**base, c: probe}]))[0])
            except Exception:  # the native model raises on it too; the graph gives NaN
                extra.append(np.full(width, np.nan))
        table = np.vstack([known, *extra])
        tables.append(table)
        owned.append(np.flatnonzero(~_same(table, base_out[None, :]).all(axis=0)))
    counts = np.zeros(width, dtype=int)
    for cols_of in owned:
        counts[cols_of] += 1
    if (counts > 1).any():
        raise Unsupported(f"categorical transformer {name} combines several columns into one output")
    owned[0] = np.union1d(owned[0], np.flatnonzero(counts == 0))  # constant outputs ride on the first column
    _check_columnwise(name, transformer, cols, vocab, tables, owned, frame)

    blocks, order = [], []
    for c, categories, value, table, cols_of in zip(cols, vocab, values, tables, owned, strict=True):
        if not len(cols_of):
            continue
        keys = list(categories)
        index = list(range(len(categories)))
        if MISSING_STRING not in keys:
            keys.append(MISSING_STRING)
            index.append(len(categories))
        row = g.op(
            "LabelEncoder",
            [value],
            f"{name}_{c}_row",
            domain=ML,
            keys_strings=keys,
            values_int64s=index,
            default_int64=len(categories) + 1,
        )
        flat = g.op("Reshape", [row, g.const(np.array([-1], np.int64), "flat")])
        blocks.append(g.op("Gather", [g.const(table[:, cols_of], f"{name}_{c}_table"), flat], f"{name}_{c}", axis=0))
        order.extend(cols_of.tolist())
    out = g.op("Concat", blocks, f"{name}_blocks", axis=1) if len(blocks) > 1 else blocks[0]
    if order != list(range(width)):
        out = g.op("Gather", [out, g.const(np.argsort(order).astype(np.int64), f"{name}_order")], axis=1)
    return out, width


def _check_columnwise(
    name: str,
    transformer: Any,
    cols: list[str],
    vocab: list[list[str]],
    tables: list[np.ndarray],
    owned: list[np.ndarray],
    frame: Any,
) -> None:
    """Random rows through the transformer must equal the per-column tables' assembly."""
    rng = np.random.default_rng(0)
    n = 32
    picks = [rng.integers(0, len(v) + 1, size=n) for v in vocab]  # a known category or missing
    rows = [
        {c: (v[p[i]] if p[i] < len(v) else np.nan) for c, v, p in zip(cols, vocab, picks, strict=True)}
        for i in range(n)
    ]
    try:
        actual = _transform(transformer, frame(rows))
    except Exception:
        return  # missing values are refused natively; the per-category tables stand
    expected = np.empty_like(actual)
    for table, cols_of, p in zip(tables, owned, picks, strict=True):
        expected[:, cols_of] = table[p][:, cols_of]
    if not _same(actual, expected).all():
        raise Unsupported(f"categorical transformer {name} does not encode each column on its own")
