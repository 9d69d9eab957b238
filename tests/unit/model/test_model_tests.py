"""Model tests (``eval.tests``) on small fitted models: each kind passes and fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from automl.config.schema import ModelTestConfig
from automl.data.images import as_rgb
from automl.data.table import PROBA_PREFIX, ExampleTable
from automl.errors import UserError
from automl.features.tabular import FeatureSchema
from automl.features.views import RawView, TabularView
from automl.model.fitted import FittedMember, FittedModel
from automl.model.model_tests import TestOutcome, failed, format_table, read_oof, run_model_tests


def _table(features: pd.DataFrame, labels: list[str] | np.ndarray) -> ExampleTable:
    labels = np.asarray(labels, dtype=object)
    ids = np.array([f"id{i}" for i in range(len(labels))], dtype=object)
    return ExampleTable(features, labels, ids, np.arange(len(labels)), sorted(set(labels.tolist())))


# --- a tabular model that reads `signal` and ignores `other` -----------------------------------


@pytest.fixture(scope="module")
def tabular() -> tuple[FittedModel, ExampleTable]:
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame(
        {"signal": rng.normal(0, 1, n), "other": rng.normal(50, 10, n), "city": rng.choice(["paris", "rome"], n)}
    )
    labels = np.where(frame["signal"] > 0, "pos", "neg")
    schema = FeatureSchema.infer(frame)
    estimator = make_pipeline(ColumnTransformer([("s", "passthrough", ["signal"])]), LogisticRegression(C=100))
    estimator.fit(schema.coerce(frame), (labels == "pos").astype(int))
    model = FittedModel(
        "tabular_classification",
        ["neg", "pos"],
        {"features": TabularView(schema)},
        [FittedMember("features", estimator, 1.0)],
    )
    return model, _table(frame, labels)


def _run(tests: list[ModelTestConfig], model: FittedModel, table: ExampleTable, **kw: Any) -> list[TestOutcome]:
    args: dict[str, Any] = {"oof": None, "threshold": None, "seed": 0, "data_root": None, **kw}
    return run_model_tests(tests, model, table, args["oof"], args["threshold"], args["seed"], args["data_root"])


def test_must_pass_on_a_row(tabular: tuple[FittedModel, ExampleTable]) -> None:
    model, table = tabular
    row = {"signal": 2.5, "other": 50.0, "city": "rome"}
    good = ModelTestConfig(type="must_pass", input=row, label="pos")
    bad = ModelTestConfig(type="must_pass", input={**row, "signal": -2.5}, label="pos", name="negative is pos")
    [ok, ko] = _run([good, bad], model, table)
    assert ok.passed and ok.value == 1.0 and ok.type == "must_pass"
    assert ok.name.startswith("must_pass: {signal: 2.5") and ok.name.endswith("-> pos")
    assert ok.detail == "got pos (1.00)"
    assert not ko.passed and ko.value == 0.0 and ko.name == "negative is pos"
    assert ko.detail.startswith("got neg (") and ", pos 0.0" in ko.detail


def test_must_pass_with_a_label_the_model_lacks_fails_and_a_bad_row_is_a_user_error(
    tabular: tuple[FittedModel, ExampleTable],
) -> None:
    model, table = tabular
    [out] = _run([ModelTestConfig(type="must_pass", input={"signal": 1.0}, label="maybe")], model, table)
    assert not out.passed and out.detail == "'maybe' is not a class of the model (neg, pos)"
    missing = ModelTestConfig(type="must_pass", name="short row", input={"signal": 1.0}, label="pos")
    with pytest.raises(UserError, match=r"model test 'short row': input is missing feature column\(s\): other, city"):
        _run([missing], model, table)
    with pytest.raises(UserError, match="a tabular model's input is a row"):
        _run([ModelTestConfig(type="must_pass", name="t", input="text", label="pos")], model, table)


def test_invariance_to_noise_on_an_ignored_column_passes(tabular: tuple[FittedModel, ExampleTable]) -> None:
    model, table = tabular
    test = ModelTestConfig(type="invariance", perturbation="noise", columns=["other"], strength=0.5, examples=200)
    [out] = _run([test], model, table)
    assert out.passed and out.value == 0.0 and out.limit == 0.05
    assert out.name == "invariance: noise" and out.detail == "0 of 200 labels changed (0.0%)"


def test_invariance_to_strong_noise_on_the_signal_fails_and_is_seeded(
    tabular: tuple[FittedModel, ExampleTable],
) -> None:
    model, table = tabular
    test = ModelTestConfig(type="invariance", perturbation="noise", strength=0.5, examples=200, max_fail_rate=0.05)
    [out] = _run([test], model, table)  # columns: null, every numeric one (signal and other)
    assert not out.passed and out.value is not None and 0.05 < out.value < 0.5
    assert out.detail == f"{round(out.value * 200)} of 200 labels changed ({out.value:.1%})"
    assert _run([test], model, table) == [out]
    weak = ModelTestConfig(type="invariance", perturbation="noise", columns=["signal"], strength=0.001, examples=200)
    assert _run([weak], model, table)[0].passed
    everything = ModelTestConfig(type="invariance", perturbation="noise", examples=10_000)
    assert " of 400 labels changed " in _run([everything], model, table)[0].detail  # no more than the table


def test_invariance_checks_the_columns_and_the_task(tabular: tuple[FittedModel, ExampleTable]) -> None:
    model, table = tabular
    with pytest.raises(UserError, match="column 'city' is not numeric"):
        _run([ModelTestConfig(type="invariance", perturbation="noise", columns=["city"])], model, table)
    with pytest.raises(UserError, match="no column 'colour' among the features"):
        _run([ModelTestConfig(type="invariance", perturbation="noise", columns=["colour"])], model, table)
    with pytest.raises(UserError, match="typos is for text_classification; this model is tabular_classification"):
        _run([ModelTestConfig(type="invariance", perturbation="typos")], model, table)


# --- class floors on given out-of-fold probabilities -------------------------------------------


def _floor_case() -> tuple[FittedModel, ExampleTable, np.ndarray]:
    """10 ham, 10 spam; out of fold, 8 spam found (recall 0.8) and 2 ham called spam (precision 0.8)."""
    labels = ["ham"] * 10 + ["spam"] * 10
    p_spam = np.array([0.1] * 8 + [0.6, 0.7] + [0.9] * 8 + [0.2, 0.4])
    oof = np.column_stack([1 - p_spam, p_spam])
    model = FittedModel("text_classification", ["ham", "spam"], {"raw": RawView()}, [])
    return model, _table(pd.DataFrame({"input": ["x"] * 20}), labels), oof


def test_class_floor_passes_at_the_floor_and_fails_above_it() -> None:
    model, table, oof = _floor_case()
    at = ModelTestConfig(type="class_floor", label="spam", recall=0.8)
    above = ModelTestConfig(type="class_floor", label="spam", recall=0.85, precision=0.5)
    [ok, ko] = _run([at, above], model, table, oof=oof)
    assert ok.passed and ok.value == 0.8 and ok.limit == 0.8 and ok.name == "recall(spam) >= 0.8"
    assert ok.detail == "recall(spam) 0.80 >= 0.80 on 10 examples"
    assert not ko.passed and ko.value == 0.8 and ko.limit == 0.85
    assert ko.name == "recall(spam) >= 0.85, precision(spam) >= 0.5"
    assert ko.detail == "recall(spam) 0.80 < 0.85 on 10 examples"


def test_class_floor_precision_every_class_and_the_threshold() -> None:
    model, table, oof = _floor_case()
    every = ModelTestConfig(type="class_floor", precision=0.75)
    [out] = _run([every], model, table, oof=oof)
    assert out.passed and out.name == "precision(each class) >= 0.75"
    assert out.detail == "lowest: precision(ham) 0.80 >= 0.75 on 10 predicted ham"
    # threshold 0.65: the ham at 0.6 is ham now; precision(ham) 9 of 11, precision(spam) 8 of 9
    strict = ModelTestConfig(type="class_floor", precision=0.81)
    [low] = _run([strict], model, table, oof=oof)
    [high] = _run([strict], model, table, oof=oof, threshold=0.65)
    assert not low.passed and low.value == 0.8 and low.limit == 0.81
    assert (
        low.detail == "precision(ham) 0.80 < 0.81 on 10 predicted ham; precision(spam) 0.80 < 0.81 on 10 predicted spam"
    )
    assert high.passed and high.value == pytest.approx(9 / 11, abs=1e-6)
    assert high.detail == "lowest: precision(ham) 0.82 >= 0.81 on 11 predicted ham"


def test_class_floor_leaves_out_rows_without_out_of_fold_predictions() -> None:
    model, table, oof = _floor_case()
    oof = oof.copy()
    oof[18:] = np.nan  # the two missed spam examples were not predicted by the run
    [out] = _run([ModelTestConfig(type="class_floor", label="spam", recall=1.0)], model, table, oof=oof)
    assert out.passed and out.detail == "recall(spam) 1.00 >= 1.00 on 8 examples"


def test_class_floor_without_predictions_or_with_an_unknown_class_fails() -> None:
    model, table, oof = _floor_case()
    floor = ModelTestConfig(type="class_floor", label="spam", recall=0.5)
    [none] = _run([floor], model, table)
    assert not none.passed and none.value is None and "no out-of-fold predictions" in none.detail
    [unknown] = _run([ModelTestConfig(type="class_floor", label="eggs", recall=0.5)], model, table, oof=oof)
    assert not unknown.passed and unknown.detail == "'eggs' is not a class of the model (ham, spam)"


# --- a text model ------------------------------------------------------------------------------


SPAM = ["WINNER claim your free prize now", "free cash prize call now", "urgent you won a free holiday"]
HAM = ["see you at lunch tomorrow", "can you pick up the kids", "running late, home by six"]


@pytest.fixture(scope="module")
def text_model() -> tuple[FittedModel, ExampleTable]:
    texts, labels = SPAM * 10 + HAM * 10, ["spam"] * 30 + ["ham"] * 30
    estimator = make_pipeline(TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4)), LogisticRegression(C=10))
    estimator.fit(np.asarray(texts, dtype=object), [int(label == "spam") for label in labels])
    model = FittedModel(
        "text_classification", ["ham", "spam"], {"raw": RawView()}, [FittedMember("raw", estimator, 1.0)]
    )
    return model, _table(pd.DataFrame({"input": texts}), labels)


def test_must_pass_and_typos_on_a_text_model(text_model: tuple[FittedModel, ExampleTable]) -> None:
    model, table = text_model
    tests = [
        ModelTestConfig(type="must_pass", input="WINNER claim your free prize, call now to collect", label="spam"),
        ModelTestConfig(type="must_pass", input="lunch tomorrow?", label="spam"),
        ModelTestConfig(type="invariance", perturbation="typos", strength=0.2, examples=40, max_fail_rate=0.0),
    ]
    outcomes = _run(tests, model, table, seed=3)
    assert [o.passed for o in outcomes] == [True, False, True]
    assert outcomes[0].name == "must_pass: 'WINNER claim your free p...' -> spam"
    assert outcomes[2].detail == "0 of 40 labels changed (0.0%)"
    assert _run(tests, model, table, seed=3) == outcomes
    assert failed(outcomes) == [outcomes[1]]


# --- an image model: red or blue --------------------------------------------------------------


def _mean_colour(items: Any) -> np.ndarray:
    return np.array([np.asarray(as_rgb(item), dtype=float).mean(axis=(0, 1)) for item in np.ravel(items)])


def _image(path: Path, colour: tuple[int, int, int], stripe: tuple[int, int, int]) -> str:
    pixels = np.zeros((16, 16, 3), dtype=np.uint8)
    pixels[:, :] = colour
    pixels[:, :5] = stripe  # a stripe on the left: the model sees colour, not where it is
    Image.fromarray(pixels, "RGB").save(path)
    return str(path)


@pytest.fixture
def image_model(tmp_path: Path) -> tuple[FittedModel, ExampleTable, Path]:
    folder = tmp_path / "images"
    folder.mkdir()
    reds = [_image(folder / f"red{i}.png", (200 + i, 20, 20), (0, 0, 0)) for i in range(6)]
    blues = [_image(folder / f"blue{i}.png", (20, 20, 200 + i), (0, 0, 0)) for i in range(6)]
    estimator = make_pipeline(FunctionTransformer(_mean_colour), LogisticRegression())
    estimator.fit(np.asarray(reds + blues, dtype=object), [0] * 6 + [1] * 6)
    model = FittedModel(
        "image_classification", ["red", "blue"], {"raw": RawView()}, [FittedMember("raw", estimator, 1.0)]
    )
    return model, _table(pd.DataFrame({"input": reds + blues}), ["red"] * 6 + ["blue"] * 6), folder


def test_image_paths_are_read_against_the_data_root(image_model: tuple[FittedModel, ExampleTable, Path]) -> None:
    model, table, folder = image_model
    tests = [
        ModelTestConfig(type="must_pass", input="red0.png", label="red"),
        ModelTestConfig(type="must_pass", input=str(folder / "blue1.png"), label="red"),
        ModelTestConfig(type="invariance", perturbation="flip", examples=8, max_fail_rate=0.0),
        ModelTestConfig(type="invariance", perturbation="crop", strength=0.2, examples=8, max_fail_rate=0.0),
    ]
    outcomes = _run(tests, model, table, data_root=folder)
    assert [o.passed for o in outcomes] == [True, False, True, True]
    assert outcomes[1].detail.startswith("got blue")
    # data.path a file (an image table): its folder is the root
    assert _run(tests[:1], model, table, data_root=folder / "labels.csv")[0].passed


def test_a_missing_image_is_a_user_error_naming_the_test(image_model: tuple[FittedModel, ExampleTable, Path]) -> None:
    model, table, folder = image_model
    test = ModelTestConfig(type="must_pass", name="the cat", input="cat.png", label="red")
    with pytest.raises(UserError, match=f"model test 'the cat': no image file {folder / 'cat.png'}"):
        _run([test], model, table, data_root=folder)


# --- reading a run's out-of-fold predictions; the table ----------------------------------------


def test_read_oof_aligns_by_example_id_and_leaves_unknown_rows_nan(tmp_path: Path) -> None:
    oof = pd.DataFrame(
        {
            "example_id": ["b", "a", "a", "c"],
            "source": ["1", "0", "2", "3"],
            "fold": [0, 1, 0, 1],
            "label": ["x", "y", "y", "x"],
            f"{PROBA_PREFIX}x": [0.9, 0.2, 0.3, 0.6],
            f"{PROBA_PREFIX}y": [0.1, 0.8, 0.7, 0.4],
        }
    )
    oof.to_parquet(tmp_path / "oof.parquet", index=False)
    aligned = read_oof(tmp_path / "oof.parquet", np.array(["a", "new", "b", "a"], dtype=object), ["y", "x"])
    assert aligned[0].tolist() == [0.8, 0.2] and aligned[2].tolist() == [0.1, 0.9] and aligned[3].tolist() == [0.7, 0.3]
    assert np.isnan(aligned[1]).all()
    with pytest.raises(UserError, match="no column"):
        read_oof(tmp_path / "oof.parquet", np.array(["a"]), ["x", "z"])


def test_format_table_aligns_the_columns() -> None:
    outcomes = [
        TestOutcome("recall(spam) >= 0.8", "class_floor", False, 0.62, 0.8, "recall(spam) 0.62 < 0.80 on 120 examples"),
        TestOutcome("invariance: typos", "invariance", True, 0.07, 0.1, "14 of 200 labels changed (7.0%)"),
    ]
    lines = format_table(outcomes).splitlines()
    assert lines[0].split() == ["TEST", "RESULT", "VALUE", "LIMIT", "DETAIL"]
    assert lines[1].startswith("recall(spam) >= 0.8  FAIL    0.620  0.800  recall(spam)")
    assert lines[2].startswith("invariance: typos    PASS    0.070  0.100  14 of 200")
    assert len({line.index(word) for line, word in zip(lines, ["RESULT", "FAIL", "PASS"], strict=True)}) == 1
    assert outcomes[0].to_json()["value"] == 0.62
