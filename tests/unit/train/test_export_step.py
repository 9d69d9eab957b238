"""The run's export step with an exporter plugin: its files become the version's ``export/``, its
report goes into the summary; an exporter that cannot export, or fails, leaves the native model."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl.config.compose import load_recipe
from automl.config.validate import check_recipe
from automl.data.table import ExampleTable
from automl.errors import UserError
from automl.plugins.api import ComponentSpec, hookimpl
from automl.plugins.manager import build_plugins
from automl.registry.store import ModelStore
from automl.testing import specs_of
from automl.train.export import cache_dir, check_inputs, check_rows, expected_export_s, export_model


@dataclass
class FakeOptions:
    mode: str = "ok"


@dataclass
class FakeReport:
    exported: bool
    reason: str | None = None
    path: Path | None = None
    max_abs_diff: float | None = None
    same_label_rate: float | None = None


class FakeExporter:
    def __init__(self, options: FakeOptions) -> None:
        self.options = options

    def export(self, model: object, inputs: object, folder: Path) -> FakeReport:
        if self.options.mode == "crash":
            raise RuntimeError("converter blew up")
        if self.options.mode == "refuse":
            return FakeReport(False, reason="member knn: no converter")
        (folder / "model.fake").write_text(f"{len(inputs)} rows")  # type: ignore[arg-type]
        return FakeReport(True, path=folder / "model.fake", max_abs_diff=1e-7, same_label_rate=1.0)


class ExporterPlugin:
    @hookimpl
    def register_exporters(self, register: Callable[[ComponentSpec], None]) -> None:
        register(ComponentSpec(name="fake", config_cls=FakeOptions, factory=FakeExporter))


@pytest.fixture(scope="module")
def plugins():
    return build_plugins(extra=[ExporterPlugin()])


def _table(labels: list[str]) -> ExampleTable:
    """A table of ``len(labels)`` rows, all in the first fold (``np.zeros`` folds)."""
    n = len(labels)
    return ExampleTable(
        pd.DataFrame({"x": np.arange(float(n))}), np.array(labels), np.arange(n).astype(str), np.arange(n), ["a", "b"]
    )


def _checked(plugins, small_csv: Path, *overrides: str):
    recipe = load_recipe("penguins", [f"data.path={small_csv}", "data.target=label", "deploy.export=fake", *overrides])
    return check_recipe(recipe, plugins)


def test_export_options_are_checked_with_the_recipe(plugins, small_csv: Path) -> None:
    assert _checked(plugins, small_csv, "deploy.export_options.mode=refuse").export_options == FakeOptions("refuse")
    with pytest.raises(UserError, match=r"deploy\.export_options\.colour"):
        _checked(plugins, small_csv, "deploy.export_options.colour=red")
    recipe = load_recipe(
        "penguins",
        [f"data.path={small_csv}", "data.target=label", "deploy.export=null", "deploy.export_options.mode=x"],
    )
    with pytest.raises(UserError, match="set deploy.export to the exporter"):
        check_recipe(recipe, plugins)


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("ok", None),
        ("refuse", "member knn: no converter"),
        ("crash", r"the fake exporter failed: RuntimeError: converter blew up \(test_export_step.py:\d+\)"),
    ],
)
def test_export_outcomes(plugins, small_csv: Path, tmp_path: Path, capsys, mode: str, reason: str | None) -> None:
    checked = _checked(plugins, small_csv, f"deploy.export_options.mode={mode}")
    outcome = export_model(checked, plugins, object(), _table(["a", "b", "a"]), np.zeros(3, dtype=int), tmp_path)
    assert outcome is not None and outcome.report["exporter"] == "fake"
    if reason is None:
        assert outcome.report["exported"] and outcome.folder == tmp_path / "export"
        assert (outcome.folder / "model.fake").read_text() == "3 rows"
        assert "exported with fake: max |p - p_native| 1.00e-07, same label on 100.0%" in capsys.readouterr().err
        store = ModelStore(tmp_path / "ws")
        meta = {"classes": ["a", "b"], "export": outcome.report}
        version = store.register("m", {"w": 1}, meta, attachments={"export": outcome.folder})
        assert (store.version_dir("m", version) / "export" / "model.fake").is_file()
        assert store.meta("m", version).export["exported"] is True
    else:
        import re

        assert not outcome.report["exported"] and outcome.folder is None
        assert re.fullmatch(reason, outcome.report["reason"])
        assert "warning: not exported with fake" in capsys.readouterr().err


def test_a_model_auto_cannot_export_is_a_note_not_a_warning(plugins, small_csv: Path, tmp_path: Path, capsys) -> None:
    recipe = load_recipe("penguins", [f"data.path={small_csv}", "data.target=label", "deploy.export=auto"])
    checked = check_recipe(recipe, build_plugins())  # the installed exporters: onnx
    assert checked.recipe.deploy.export == "onnx"
    outcome = export_model(checked, build_plugins(), object(), _table(["a", "b"]), np.zeros(2, dtype=int), tmp_path)
    assert outcome is not None and not outcome.report["exported"]
    err = capsys.readouterr().err
    assert "note: kept native, not exported with onnx" in err and "warning" not in err


def test_no_exporter_no_export(plugins, small_csv: Path, tmp_path: Path) -> None:
    recipe = load_recipe("penguins", [f"data.path={small_csv}", "data.target=label", "deploy.export=null"])
    table = _table(["a", "b"])
    assert (
        export_model(check_recipe(recipe, plugins), plugins, object(), table, np.zeros(2, dtype=int), tmp_path) is None
    )


def test_check_inputs_are_rows_of_the_first_fold() -> None:
    features = pd.DataFrame({"x": np.arange(10.0)})
    table = ExampleTable(features, np.array(["a"] * 10), np.arange(10).astype(str), np.arange(10), ["a"])
    folds = np.array([0, 1] * 5)
    chosen = check_inputs(table, check_rows(folds, 3, seed=0))
    assert len(chosen) == 3 and set(chosen["x"]) <= {0.0, 2.0, 4.0, 6.0, 8.0}
    media = ExampleTable(
        pd.DataFrame({"input": [f"p{i}" for i in range(10)]}),
        np.array(["a"] * 10),
        np.arange(10).astype(str),
        np.arange(10),
        ["a"],
    )
    assert check_inputs(media, check_rows(folds, 100, seed=0)) == ["p0", "p2", "p4", "p6", "p8"]


def test_an_exporter_that_declares_labels_and_metric_gets_them(plugins, small_csv: Path, tmp_path: Path) -> None:
    seen: dict[str, object] = {}

    class Measuring(FakeExporter):
        def export(self, model, inputs, folder, *, labels=None, metric=None):  # type: ignore[no-untyped-def,override]
            seen.update(labels=labels, metric=metric)
            return super().export(model, inputs, folder)

    class MeasuringPlugin:
        """The fake exporter's spec, building ``Measuring`` instead."""

        @hookimpl
        def register_exporters(self, register: Callable[[ComponentSpec], None]) -> None:
            (spec,) = specs_of(ExporterPlugin(), "register_exporters")
            register(dataclasses.replace(spec, factory=Measuring))

    measuring = build_plugins(extra=[MeasuringPlugin()])
    checked = _checked(measuring, small_csv)
    export_model(checked, measuring, object(), _table(["a", "b"]), np.zeros(2, dtype=int), tmp_path)
    assert list(seen["labels"]) == [0, 1] and seen["metric"].name == checked.recipe.eval.metric  # type: ignore[union-attr,call-overload]


def test_an_exporter_gets_the_workspace_cache_and_the_time_left(plugins, small_csv: Path, tmp_path: Path) -> None:
    seen: dict[str, object] = {}

    class Budgeted(FakeExporter):
        def expected_seconds(self, views, cache):  # type: ignore[no-untyped-def]
            seen.update(views=views, cache=cache)
            return 7.5

        def export(self, model, inputs, folder, *, cache_dir=None, seconds_left=None):  # type: ignore[no-untyped-def,override]
            seen.update(cache_dir=cache_dir, seconds_left=seconds_left)
            return super().export(model, inputs, folder)

    class BudgetedPlugin:
        @hookimpl
        def register_exporters(self, register: Callable[[ComponentSpec], None]) -> None:
            (spec,) = specs_of(ExporterPlugin(), "register_exporters")
            register(dataclasses.replace(spec, factory=Budgeted))

    budgeted = build_plugins(extra=[BudgetedPlugin()])
    checked = _checked(budgeted, small_csv)
    ws = tmp_path / "ws"
    assert expected_export_s(checked, budgeted, {"backbone:x": "view"}, ws) == 7.5
    # plus the check: the copy over the check rows (at most the first fold), at the slowest backbone's rate
    rows = checked.recipe.deploy.export_check_rows
    rates = {"fast": 400.0, "slow": 100.0}
    expected = expected_export_s(checked, budgeted, {"backbone:x": "view"}, ws, rates)
    assert expected == pytest.approx(7.5 + rows / 100)
    small = 10 * checked.recipe.eval.cv_folds  # a fold of 10 examples
    assert expected_export_s(checked, budgeted, {"backbone:x": "view"}, ws, rates, small) == pytest.approx(
        7.5 + 10 / 100
    )
    assert seen == {"views": ["view"], "cache": cache_dir(ws)}
    export_model(checked, budgeted, object(), _table(["a", "b"]), np.zeros(2, dtype=int), tmp_path, None, ws, 12.0)
    assert seen["cache_dir"] == ws / "cache" / "exports" and seen["seconds_left"] == 12.0
    # an exporter without the estimate costs nothing extra; no export asked: nothing either
    assert expected_export_s(_checked(plugins, small_csv), plugins, {}, ws) == 0.0


def test_the_native_reference_comes_from_the_runs_view_matrices() -> None:
    from types import SimpleNamespace

    from sklearn.linear_model import LogisticRegression

    from automl.features.views import EmbeddingView, TabularView
    from automl.model.fitted import FittedMember, FittedModel
    from automl.train.export import reference_outputs

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(20, 3)), columns=["e0", "e1", "e2"])
    y = (X["e0"] > 0).astype(int).to_numpy()
    head = LogisticRegression().fit(X, y)
    view = EmbeddingView(SimpleNamespace())  # never called: the matrices stand for it
    model = FittedModel(
        "image_classification", ["a", "b"], {"backbone:x": view}, [FittedMember("backbone:x", head, 1.0)]
    )
    chosen = np.array([1, 4, 7])
    proba, embedding = reference_outputs(model, {"backbone:x": X}, chosen, 20)
    np.testing.assert_allclose(proba, head.predict_proba(X.iloc[chosen]))
    np.testing.assert_array_equal(embedding, X.iloc[chosen].to_numpy(np.float32))
    assert reference_outputs(model, {"backbone:x": X.iloc[:10]}, chosen, 20) is None  # not the run's rows
    assert reference_outputs(model, {}, chosen, 20) is None
    table = FittedModel(
        "tabular_classification", ["a", "b"], {"features": TabularView(None)}, [FittedMember("features", head, 1.0)]
    )  # type: ignore[arg-type]
    assert reference_outputs(table, {"features": X}, chosen, 20) is None  # tables run natively
