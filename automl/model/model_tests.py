"""The recipe's model tests (``eval.tests``), CheckList-style: behaviour a model must show besides
its score.

- ``must_pass``: one input (a text, an image path, a row) must get a label.
- ``class_floor``: a class's recall and/or precision (or every class's) at least a floor, measured
  on out-of-fold predictions against the table's labels.
- ``invariance``: a seeded sample of the training examples, perturbed (``automl.model.perturb``),
  keeps its predicted labels, but for at most ``max_fail_rate`` of them.

A test that cannot hold for this model (a class it does not know, no out-of-fold predictions) is
a failed outcome that says why; a test that cannot run (an image file that is not there, a row
without the model's columns) is a ``UserError`` naming the test. Each test predicts in one batch,
through the fitted model's own ``predict_proba`` and ``decide``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from automl.config.schema import ModelTestConfig
from automl.config.validate import PERTURBATIONS
from automl.data.images import UnreadableImage, as_rgb
from automl.data.table import PROBA_PREFIX, ExampleTable
from automl.errors import UserError
from automl.evaluate.scoring import decide
from automl.model import perturb
from automl.model.fitted import FittedModel

TABULAR, TEXT, IMAGE = "tabular_classification", "text_classification", "image_classification"
MUST_PASS, CLASS_FLOOR, INVARIANCE = "must_pass", "class_floor", "invariance"


@dataclass(frozen=True)
class TestOutcome:
    """One test's result: what was measured against which limit, and a line a person reads."""

    __test__ = False  # not a pytest test class

    name: str  # the test's name, or one made from it
    type: str  # must_pass | class_floor | invariance
    passed: bool
    value: float | None  # 1.0/0.0 (must_pass), the lowest recall or precision checked, the fail rate
    limit: float | None
    detail: str

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def failed(outcomes: Sequence[TestOutcome]) -> list[TestOutcome]:
    return [o for o in outcomes if not o.passed]


def run_model_tests(
    tests: Sequence[ModelTestConfig],
    model: FittedModel,
    table: ExampleTable,
    oof: np.ndarray | None,
    threshold: float | None,
    seed: int,
    data_root: Path | None,
) -> list[TestOutcome]:
    """Run ``tests`` on ``model``, in order, one outcome each.

    ``table``: the training examples (invariance samples them; class floors take their labels).
    ``oof``: out-of-fold probabilities row-aligned with ``table``, one column per class of the
    model in its order (rows of NaN, examples without one, are left out); None: class floors fail
    for want of them. ``threshold``: the binary decision threshold the out-of-fold predictions are
    decided by. ``seed``: fixes the invariance samples and perturbations. ``data_root``: the
    recipe's ``data.path`` (a folder, or a file whose folder is meant), against which relative
    image paths of must_pass tests are read.
    """
    outcomes = []
    for i, test in enumerate(tests):
        if test.type == MUST_PASS:
            outcomes.append(_must_pass(test, model, data_root))
        elif test.type == CLASS_FLOOR:
            outcomes.append(_class_floor(test, list(model.classes), table.labels, oof, threshold))
        elif test.type == INVARIANCE:
            outcomes.append(_invariance(test, model, table, np.random.default_rng([seed, i])))
        else:
            raise UserError(f"eval.tests[{i}]: unknown type '{test.type}' (must_pass, class_floor or invariance).")
    return outcomes


# --- must_pass ---------------------------------------------------------------------------------


def _short(value: Any, width: int = 24) -> str:
    if isinstance(value, Mapping):
        text = "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
        return text if len(text) <= width + 2 else text[: width - 1] + "...}"
    text = " ".join(str(value).split())
    return f"'{text}'" if len(text) <= width else f"'{text[:width].rstrip()}...'"


def _must_pass_input(test: ModelTestConfig, name: str, task: str, data_root: Path | None) -> Any:
    """The test's input as the model takes it (a one-row frame, a list of one text or image)."""
    given = test.input
    if task == TABULAR:
        import pandas as pd

        if not isinstance(given, Mapping):
            raise UserError(f"model test '{name}': a tabular model's input is a row, a mapping of column: value.")
        return pd.DataFrame([dict(given)])
    if not isinstance(given, str):
        what = "a text" if task == TEXT else "an image path"
        raise UserError(f"model test '{name}': a {task} model's input is {what}, not {type(given).__name__}.")
    if task == TEXT:
        return [given]
    path = Path(given).expanduser()
    if not path.is_absolute() and data_root is not None:
        path = (data_root if data_root.is_dir() else data_root.parent) / path
    if not path.is_file():
        raise UserError(f"model test '{name}': no image file {path}.")
    try:
        return [as_rgb(str(path))]
    except UnreadableImage as err:
        raise UserError(f"model test '{name}': cannot read the image {path} ({err}).") from None


def _must_pass(test: ModelTestConfig, model: FittedModel, data_root: Path | None) -> TestOutcome:
    name = test.name or f"must_pass: {_short(test.input)} -> {test.label}"
    if test.label not in model.classes:
        known = ", ".join(model.classes)
        return TestOutcome(name, MUST_PASS, False, None, 1.0, f"'{test.label}' is not a class of the model ({known})")
    inputs = _must_pass_input(test, name, model.task, data_root)
    try:
        proba = model.predict_proba(inputs)
    except UserError as err:
        raise UserError(f"model test '{name}': {err}") from None
    index = int(model.decide(proba)[0])
    got = model.classes[index]
    passed = got == test.label
    detail = f"got {got} ({proba[0, index]:.2f})"
    if not passed:
        detail += f", {test.label} {proba[0, model.classes.index(str(test.label))]:.2f}"
    return TestOutcome(name, MUST_PASS, passed, 1.0 if passed else 0.0, 1.0, detail)


# --- class_floor -------------------------------------------------------------------------------


def _floor_name(test: ModelTestConfig) -> str:
    which = test.label if test.label is not None else "each class"
    floors = [(key, getattr(test, key)) for key in ("recall", "precision") if getattr(test, key) is not None]
    return ", ".join(f"{key}({which}) >= {floor:g}" for key, floor in floors)


def _class_floor(
    test: ModelTestConfig, classes: list[str], labels: np.ndarray, oof: np.ndarray | None, threshold: float | None
) -> TestOutcome:
    name = test.name or _floor_name(test)
    limit = test.recall if test.recall is not None else test.precision
    if oof is None:
        detail = "no out-of-fold predictions to measure it on (automl test reads those the version's run saved)"
        return TestOutcome(name, CLASS_FLOOR, False, None, limit, detail)
    if test.label is not None and test.label not in classes:
        detail = f"'{test.label}' is not a class of the model ({', '.join(classes)})"
        return TestOutcome(name, CLASS_FLOOR, False, None, limit, detail)
    if oof.shape != (len(labels), len(classes)):
        shape = f"{len(labels)} examples x {len(classes)} classes"
        raise ValueError(f"out-of-fold predictions of shape {oof.shape}, not {shape}")
    kept = ~np.isnan(oof).any(axis=1)
    true = np.asarray(labels, dtype=object)[kept].astype(str)
    pred = np.asarray(classes, dtype=object)[decide(oof[kept], threshold)].astype(str)
    checks: list[tuple[float, float, str, str]] = []  # (value, floor, what, on how many)
    for cls in [test.label] if test.label is not None else classes:
        support, predicted = int((true == cls).sum()), int((pred == cls).sum())
        hits = int(((true == cls) & (pred == cls)).sum())
        if test.recall is not None:
            if not support:
                detail = f"no examples of {cls} among the {int(kept.sum())} with out-of-fold predictions"
                return TestOutcome(name, CLASS_FLOOR, False, None, test.recall, detail)
            checks.append((hits / support, test.recall, f"recall({cls})", f"on {support} examples"))
        if test.precision is not None:
            value = hits / predicted if predicted else 0.0
            checks.append((value, test.precision, f"precision({cls})", f"on {predicted} predicted {cls}"))
    low = [c for c in checks if c[0] < c[1] - 1e-12]
    worst = min(checks, key=lambda c: c[0] - c[1])
    if low:
        detail = "; ".join(f"{what} {value:.2f} < {floor:.2f} {on}" for value, floor, what, on in low)
    else:
        value, floor, what, on = worst
        detail = ("lowest: " if len(checks) > 1 else "") + f"{what} {value:.2f} >= {floor:.2f} {on}"
    return TestOutcome(name, CLASS_FLOOR, not low, round(worst[0], 6), worst[1], detail)


# --- invariance --------------------------------------------------------------------------------


def _noise_columns(test: ModelTestConfig, name: str, frame: Any) -> list[str]:
    numeric = perturb.numeric_columns(frame)
    if test.columns is None:
        return numeric
    for column in test.columns:
        if column not in frame.columns:
            listed = ", ".join(map(str, frame.columns))
            raise UserError(f"model test '{name}': no column '{column}' among the features ({listed}).")
        if column not in numeric:
            raise UserError(f"model test '{name}': column '{column}' is not numeric; noise only changes numbers.")
    return list(test.columns)


def _perturbed_batch(test: ModelTestConfig, name: str, table: ExampleTable, rows: np.ndarray, rng: Any) -> Any:
    """The sampled examples followed by their perturbed copies, as one input of the model."""
    kind = str(test.perturbation)
    if kind == "noise":
        import pandas as pd

        sample = table.features.iloc[rows].reset_index(drop=True)
        stds = perturb.column_stds(table.features, _noise_columns(test, name, table.features))
        return pd.concat([sample, perturb.add_noise(sample, stds, test.strength, rng)], ignore_index=True)
    items = table.features["input"].to_numpy()[rows].tolist()
    if kind == "typos":
        return items + [perturb.typos(str(text), test.strength, rng) for text in items]
    if kind == "flip":
        return items + [perturb.flip(as_rgb(item)) for item in items]
    return items + [perturb.crop(as_rgb(item), test.strength) for item in items]


def _invariance(test: ModelTestConfig, model: FittedModel, table: ExampleTable, rng: Any) -> TestOutcome:
    kind = str(test.perturbation)
    name = test.name or f"invariance: {kind}"
    fits = PERTURBATIONS.get(kind)
    if fits is None:
        raise UserError(f"model test '{name}': unknown perturbation '{kind}' ({', '.join(PERTURBATIONS)}).")
    if fits != model.task:
        raise UserError(f"model test '{name}': the perturbation {kind} is for {fits}; this model is {model.task}.")
    if not len(table):
        return TestOutcome(name, INVARIANCE, False, None, test.max_fail_rate, "no training examples to perturb")
    n = min(test.examples, len(table))
    rows = np.sort(rng.choice(len(table), size=n, replace=False))
    labels = model.decide(model.predict_proba(_perturbed_batch(test, name, table, rows, rng)))
    changed = int((labels[:n] != labels[n:]).sum())
    rate = changed / n
    passed = rate <= test.max_fail_rate + 1e-12
    detail = f"{changed} of {n} labels changed ({rate:.1%})"
    return TestOutcome(name, INVARIANCE, passed, round(rate, 6), test.max_fail_rate, detail)


# --- out-of-fold predictions and the table -----------------------------------------------------


def read_oof(path: Path, ids: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """A run's ``oof.parquet`` as probabilities row-aligned with ``ids`` (a table's example ids),
    one column per class in ``classes``' order; rows the run did not predict are NaN. The k-th
    example of an id takes the run's k-th row of that id (duplicates keep their own rows)."""
    import pandas as pd

    oof = pd.read_parquet(path)
    columns = [f"{PROBA_PREFIX}{c}" for c in classes]
    missing = [c for c in columns if c not in oof.columns]
    if missing:
        raise UserError(f"{path}: no column(s) {', '.join(missing)}; it is not the run of this model's classes.")
    keys = pd.MultiIndex.from_arrays([oof["example_id"].astype(str), oof.groupby("example_id").cumcount()])
    proba = oof[columns].set_axis(keys)
    wanted = pd.Series(np.asarray(ids, dtype=str))
    aligned = proba.reindex(pd.MultiIndex.from_arrays([wanted, wanted.groupby(wanted).cumcount()]))
    return aligned.to_numpy(dtype=np.float64)


def _number(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.3f}"


def format_table(outcomes: Sequence[TestOutcome]) -> str:
    """The outcomes as an aligned plain-text table: test, result, value, limit, detail."""
    rows = [("TEST", "RESULT", "VALUE", "LIMIT", "DETAIL")]
    rows += [(o.name, "PASS" if o.passed else "FAIL", _number(o.value), _number(o.limit), o.detail) for o in outcomes]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].rjust(widths[2]), row[3].rjust(widths[3])]
        lines.append("  ".join([*cells, row[4]]).rstrip())
    return "\n".join(lines)
