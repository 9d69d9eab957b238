import importlib.metadata as md
from dataclasses import dataclass

import pytest

from automl.errors import UserError
from automl.plugins.api import TrainerSpec, hookimpl
from automl.plugins.hookspecs import KIND_HOOKS
from automl.plugins.manager import PluginLoadWarning, build_plugins
from automl.plugins.registry import PluginError, Registry

KINDS = [
    "loader",
    "backbone",
    "trainer",
    "augmenter",
    "sampler",
    "serving_backend",
    "exporter",
    "metric",
    "drift_detector",
]


@dataclass
class NoParams:
    pass


def _build(cfg, ctx):  # pragma: no cover - never fitted here
    raise NotImplementedError


class DuplicateTrainer:
    """A test plugin that registers a trainer under a built-in's name."""

    @staticmethod
    @hookimpl
    def register_trainers(register):
        register(TrainerSpec(name="random_forest", config_cls=NoParams, build=_build))


class MisspeltHook:
    @staticmethod
    @hookimpl
    def register_trainer(register):  # not a hook: must be reported, not ignored
        pass


def test_every_kind_has_a_registration_hook() -> None:
    assert sorted(KIND_HOOKS) == sorted(KINDS)


def test_builtins_register_through_the_hooks() -> None:
    plugins = build_plugins()
    assert {"csv", "parquet", "duckdb"} <= set(plugins.loaders.names())
    assert {"logistic_regression", "random_forest", "extra_trees", "hist_gradient_boosting"} <= set(
        plugins.trainers.names()
    )
    assert {"accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss"} <= set(plugins.metrics.names())
    assert plugins.trainers.entry("random_forest").distribution == "automl"


def test_a_duplicate_name_is_an_error_naming_both_sources() -> None:
    with pytest.warns(PluginLoadWarning, match="registered twice: by automl and by <test>"):
        plugins = build_plugins(extra=[DuplicateTrainer])
    assert plugins.trainers.entry("random_forest").distribution == "automl"


def test_a_misspelt_hook_is_reported() -> None:
    with pytest.warns(PluginLoadWarning, match="register_trainer"):
        plugins = build_plugins(extra=[MisspeltHook])
    assert [(f.plugin, f.distribution) for f in plugins.failures if "register_trainer" in f.error] == [
        ("MisspeltHook", "<test>")
    ]


class _BrokenEntryPoint:
    name = "broken"
    group = "automl"

    class dist:
        name = "automl-broken"
        version = "9.9"

    def load(self):
        raise ImportError("No module named 'nothing_here'")


def test_a_plugin_that_fails_to_import_is_reported_and_the_rest_work(monkeypatch: pytest.MonkeyPatch) -> None:
    real = md.entry_points

    def fake(**kwargs):
        return [*real(**kwargs), _BrokenEntryPoint()] if kwargs.get("group") == "automl" else real(**kwargs)

    monkeypatch.setattr(md, "entry_points", fake)
    with pytest.warns(PluginLoadWarning, match="'broken' \\(automl-broken\\) failed: ImportError"):
        plugins = build_plugins()
    assert "logistic_regression" in plugins.trainers


def test_autoload_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOML_DISABLE_PLUGIN_AUTOLOAD", "1")
    plugins = build_plugins()
    assert {e.distribution for e in plugins.entries()} == {"automl"}


def test_registry_rejects_malformed_specs_and_suggests_names() -> None:
    registry: Registry[TrainerSpec] = Registry("trainer", TrainerSpec)
    with pytest.raises(PluginError, match="config_cls must be a dataclass"):
        registry.add(TrainerSpec(name="x", config_cls=int, build=_build), "d", "1")
    with pytest.raises(PluginError, match="default_space names nope"):
        registry.add(TrainerSpec(name="x", config_cls=NoParams, build=_build, default_space={"nope": 1}), "d", "1")
    registry.add(TrainerSpec(name="ridge", config_cls=NoParams, build=_build), "d", "1")
    with pytest.raises(UserError, match="Unknown trainer 'ridg' \\(did you mean 'ridge'\\?\\). Registered: ridge."):
        registry.get("ridg")


def test_an_install_without_the_builtins_entry_points_says_to_reinstall(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata as md

    import automl.plugins.manager as manager

    others = [ep for ep in md.entry_points(group="automl") if ep.dist is None or ep.dist.name != "automl"]
    monkeypatch.setattr(manager.md, "entry_points", lambda group: others)
    with pytest.warns(manager.PluginLoadWarning, match="reinstall automl"):
        plugins = manager.build_plugins()
    assert "csv" not in plugins.loaders.names()
