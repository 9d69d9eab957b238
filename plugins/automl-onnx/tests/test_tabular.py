"""Table models: every built-in tabular trainer (and LightGBM) and a weighted ensemble export to
one graph that agrees with the native model; what cannot export says why; the graph runs in a
fresh process from its sidecar alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from automl_onnx.config import OnnxExportConfig
from automl_onnx.exporter import OnnxExporter
from automl_onnx.runtime import OnnxModel
from sklearn.base import BaseEstimator, ClassifierMixin

from automl.evaluate.scoring import decide
from automl.features.views import FEATURES_VIEW, RawView
from automl.model.fitted import FittedMember

TRAINERS = [
    ("logistic_regression", {}),
    ("random_forest", {"n_estimators": 25}),
    ("random_forest", {"n_estimators": 25, "categorical": "onehot", "min_samples_leaf": 3}),
    ("extra_trees", {"n_estimators": 25}),
    ("hist_gradient_boosting", {"max_iter": 30}),
    ("lightgbm", {"n_estimators": 30}),
]


def assert_agrees(model, report, inputs, folder: Path) -> None:
    assert report.exported, report.reason
    assert report.reason is None
    assert report.max_abs_diff is not None and report.max_abs_diff <= 1e-4
    assert report.same_label_rate == 1.0
    assert report.rows_checked == len(inputs)
    assert report.path == folder / "model.onnx" and report.path.is_file()
    assert report.native_ms_per_row and report.onnx_ms_per_row
    runtime = OnnxModel(folder)
    native = model.predict_proba(inputs)
    np.testing.assert_allclose(runtime.predict_proba(inputs), native, atol=1e-4)
    assert np.array_equal(runtime.predict_index(inputs), model.predict_index(inputs))


@pytest.mark.parametrize(("trainer", "params"), TRAINERS, ids=[f"{t}-{i}" for i, (t, _) in enumerate(TRAINERS)])
def test_each_tabular_trainer_exports_and_agrees(table3, tmp_path: Path, trainer: str, params: dict):
    model = table3.model([(trainer, params, 1.0)])
    report = OnnxExporter().export(model, table3.check, tmp_path)
    assert_agrees(model, report, table3.check, tmp_path)
    meta = json.loads((tmp_path / "model.json").read_text())
    assert meta["classes"] == table3.classes and meta["input_kind"] == "table"
    assert [(i["name"], i["type"]) for i in meta["inputs"]] == [
        ("length", "double"),
        ("weight", "double"),
        ("count", "double"),
        ("colour", "string"),
        ("city", "string"),
    ]


def test_a_weighted_ensemble_with_a_threshold_is_one_graph(table2, tmp_path: Path):
    members = [
        ("logistic_regression", {"C": 0.5}, 0.5),
        ("random_forest", {"n_estimators": 20}, 0.3),
        ("hist_gradient_boosting", {"max_iter": 20}, 0.2),
    ]
    model = table2.model(members, threshold=0.3)
    report = OnnxExporter().export(model, table2.check, tmp_path)
    assert_agrees(model, report, table2.check, tmp_path)
    proba = model.predict_proba(table2.check)
    assert (decide(proba, 0.3) != proba.argmax(axis=1)).any(), "the threshold should matter on some rows"
    meta = json.loads((tmp_path / "model.json").read_text())
    assert meta["threshold"] == 0.3
    assert [m["weight"] for m in meta["members"]] == [0.5, 0.3, 0.2]


class Stump(ClassifierMixin, BaseEstimator):
    """An estimator no converter knows."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return np.full((len(X), len(self.classes_)), 1 / len(self.classes_))


def test_a_member_no_converter_knows_is_reported_not_raised(table3, tmp_path: Path):
    from sklearn.pipeline import Pipeline

    from automl.features.tabular import make_preprocessor

    model = table3.model([("logistic_regression", {}, 0.5)])
    custom = Pipeline([("features", make_preprocessor(table3.ctx)), ("model", Stump())]).fit(table3.X, table3.y)
    model.members.append(FittedMember(FEATURES_VIEW, custom, 0.5))
    report = OnnxExporter().export(model, table3.check, tmp_path)
    assert not report.exported
    assert report.reason.startswith("member 1 (Pipeline(ColumnTransformer, Stump)): skl2onnx cannot convert Stump")
    assert "\n" not in report.reason
    assert not (tmp_path / "model.onnx").exists()


def test_a_member_on_the_raw_inputs_is_reported(table3, tmp_path: Path):
    model = table3.model([("logistic_regression", {}, 1.0)])
    model.views["raw"] = RawView()
    model.members.append(FittedMember("raw", Stump().fit(table3.X, table3.y), 0.5))
    report = OnnxExporter().export(model, table3.check, tmp_path)
    assert not report.exported
    assert "member 1 (Stump) reads the raw texts or image files (view raw)" in report.reason


def test_no_check_rows_is_not_an_export(table3, tmp_path: Path):
    model = table3.model([("logistic_regression", {}, 1.0)])
    report = OnnxExporter().export(model, table3.check.iloc[:0], tmp_path)
    assert not report.exported and "no check rows" in report.reason


def test_nothing_to_quantize_in_a_table_model_keeps_the_float_graph(table3, tmp_path: Path):
    model = table3.model([("random_forest", {"n_estimators": 10}, 1.0)])
    report = OnnxExporter(OnnxExportConfig(quantize="dynamic")).export(model, table3.check, tmp_path)
    assert report.exported and not report.quantized
    assert report.quantized_report is not None and not report.quantized_report.kept
    assert "nothing in the graph can be quantized" in report.quantized_report.reason
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "model.onnx"]


def test_the_graph_runs_in_a_fresh_process_without_scikit_learn(table3, tmp_path: Path):
    model = table3.model(
        [("hist_gradient_boosting", {"max_iter": 20}, 0.6), ("extra_trees", {"n_estimators": 10}, 0.4)]
    )
    folder = tmp_path / "export"
    assert OnnxExporter().export(model, table3.check, folder).exported
    table3.check.to_pickle(tmp_path / "rows.pkl")
    np.save(tmp_path / "native.npy", model.predict_proba(table3.check))
    script = textwrap.dedent(
        f"""
        import json, sys
        import numpy as np, pandas as pd, onnxruntime as ort
        from automl_onnx.runtime import OnnxModel

        folder = {str(folder)!r}
        rows = pd.read_pickle({str(tmp_path / "rows.pkl")!r})
        native = np.load({str(tmp_path / "native.npy")!r})
        np.testing.assert_allclose(OnnxModel(folder).predict_proba(rows), native, atol=1e-4)
        # The documented contract, with onnxruntime alone: one (N, 1) input per column.
        meta = json.load(open(folder + "/model.json"))
        feeds = {{}}
        for spec in meta["inputs"]:
            col = rows[spec["column"]]
            if spec["type"] == "double":
                feeds[spec["name"]] = col.to_numpy(np.float64).reshape(-1, 1)
            else:
                feeds[spec["name"]] = np.where(col.isna(), "", col.astype(str)).astype(object).reshape(-1, 1)
        session = ort.InferenceSession(folder + "/model.onnx", providers=["CPUExecutionProvider"])
        proba, label = session.run(["probabilities", "label"], feeds)
        np.testing.assert_allclose(proba, native, atol=1e-4)
        assert (label == native.argmax(axis=1)).all()
        heavy = [m for m in ("sklearn", "torch", "skl2onnx") if m in sys.modules]
        assert not heavy, heavy
        print("ok")
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "ok"


def test_any_column_name_works_even_an_outputs(table3, fit_trainer, tmp_path: Path):
    from automl.features.tabular import FeatureSchema
    from automl.features.views import TabularView
    from automl.model.fitted import FittedModel
    from automl.plugins.components import TrainContext

    rename = {"length": "length (cm)", "city": "label", "colour": "colour/hue é"}
    X = table3.X.rename(columns=rename)
    schema = FeatureSchema.infer(X)
    ctx = TrainContext("tabular_classification", 3, 0, schema.numeric, schema.categorical)
    estimator = fit_trainer("logistic_regression", {}, ctx, X, table3.y)
    model = FittedModel(
        "tabular_classification",
        table3.classes,
        {FEATURES_VIEW: TabularView(schema)},
        [FittedMember(FEATURES_VIEW, estimator, 1.0)],
    )
    check = table3.check.rename(columns=rename)
    report = OnnxExporter().export(model, check, tmp_path)
    assert_agrees(model, report, check, tmp_path)
    names = {i["column"]: i["name"] for i in json.loads((tmp_path / "model.json").read_text())["inputs"]}
    assert names["label"] == "label_input" and names["length (cm)"] == "length (cm)"


def test_a_graph_that_disagrees_is_not_an_export(table3, tmp_path: Path):
    """skl2onnx converts a distance-weighted cosine kNN, but not to the same probabilities."""
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import Pipeline

    from automl.features.tabular import make_preprocessor

    model = table3.model([("logistic_regression", {}, 0.5)])
    knn = KNeighborsClassifier(n_neighbors=10, weights="distance", metric="cosine")
    member = Pipeline([("features", make_preprocessor(table3.ctx, scale=True)), ("model", knn)])
    model.members.append(FittedMember(FEATURES_VIEW, member.fit(table3.X, table3.y), 0.5))
    report = OnnxExporter().export(model, table3.check, tmp_path)
    assert not report.exported
    assert report.reason.startswith("the ONNX graph disagrees with the native model on 60 check rows")
    assert report.max_abs_diff > 1e-4 and report.rows_checked == 60


def test_a_category_given_as_a_number_reads_the_same_in_both_runtimes_and_any_batch(fit_trainer, tmp_path: Path):
    """A zip-code column learnt as text ("94110"): a caller sends it as a JSON number, next to a row
    where it is null. A DataFrame of those rows makes it 94110.0; both runtimes must still read
    "94110", as they do for the row alone."""
    import pandas as pd

    from automl.features.tabular import FeatureSchema, category_text
    from automl.features.views import TabularView
    from automl.model.exported import ExportedModel
    from automl.model.fitted import FittedModel
    from automl.plugins.components import TrainContext

    rng = np.random.default_rng(0)
    n = 300
    y = rng.integers(0, 2, n)
    zips = np.array(["94110", "10001", "60601"])[(y + rng.integers(0, 2, n)) % 3].astype(object)
    frame = pd.DataFrame({"zip": zips, "size": rng.normal(size=n) + y})
    schema = FeatureSchema.infer(frame)
    assert schema.categorical == ("zip",)
    ctx = TrainContext("tabular_classification", 2, 0, schema.numeric, schema.categorical)
    member = FittedMember(FEATURES_VIEW, fit_trainer("logistic_regression", {}, ctx, schema.coerce(frame), y), 1.0)
    native = FittedModel("tabular_classification", ["a", "b"], {FEATURES_VIEW: TabularView(schema)}, [member])
    report = OnnxExporter().export(native, frame.head(40), tmp_path)
    assert report.exported, report.reason
    exported = ExportedModel(native, OnnxModel(tmp_path))
    rows = [{"zip": 94110, "size": 0.1}, {"zip": None, "size": 0.1}, {"zip": 94110.0, "size": 0.1}]
    alone = native.predict_proba(pd.DataFrame([{"zip": "94110", "size": 0.1}]))
    for model in (native, exported):
        batch = model.predict_proba(pd.DataFrame(rows)) if model is native else model.predict_proba(rows)
        np.testing.assert_allclose(batch[0], alone[0], atol=1e-6)
        np.testing.assert_allclose(batch[2], alone[0], atol=1e-6)
    assert [category_text(v) for v in (94110, 94110.0, 94110.5, "094110", None, float("nan"))] == [
        "94110",
        "94110",
        "94110.5",
        "094110",
        None,
        None,
    ]
