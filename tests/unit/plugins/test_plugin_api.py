"""The plugin authors' surface, ``automl.plugins.api``: its names are pinned, each resolves, and
importing it stays light (registering plugins must not pull the runtime)."""

from __future__ import annotations

import pytest

import automl.plugins.api as api

PINNED = [
    "BACKBONE", "FEATURES", "RAW", "BackboneSpec", "ComponentSpec", "DriftDetector", "Embedder",
    "EmbeddingView", "Estimator", "Exporter", "FittedMember", "FittedModel", "HubWeights",
    "InstalledWeights", "LoadRequest", "LoadResult", "LoaderSpec", "MetricSpec", "NoOptions",
    "RawView", "Sampler", "ServingBackend", "Job", "Pipeline", "RequestError", "ServeSettings",
    "ServingApp", "Worker", "TabularView", "TrainContext", "TrainerSpec",
    "WeightsMismatch", "WeightsSource", "WeightsUnavailable", "as_rgb", "decide",
    "default_cache_dir", "ensure_torchvision_importable", "hookimpl", "hub_host", "hub_reachable",
    "make_preprocessor", "offline_mode", "offline_requested", "remap_state_dict", "score",
]  # fmt: skip


def test_all_is_pinned() -> None:
    assert sorted(api.__all__) == sorted(PINNED), "a change to the plugin API is a decision: update PINNED"


def test_every_name_resolves_and_unknown_names_fail() -> None:
    for name in api.__all__:
        assert getattr(api, name) is not None, name
    try:
        api.no_such_name  # noqa: B018
    except AttributeError as err:
        assert "no_such_name" in str(err)
    else:
        raise AssertionError("an unknown name must raise AttributeError")


def test_the_former_surface_still_imports_with_a_warning() -> None:
    with pytest.deprecated_call(match="import TrainerSpec from automl.plugins.api"):
        from automl.plugins import TrainerSpec
    assert TrainerSpec is api.TrainerSpec
    with pytest.raises(ImportError):
        from automl.plugins import no_such_name  # noqa: F401
