"""Image models: heads over a timm resnet18 (random weights, no network) compose with the
backbone into one graph from the preprocessed tensor; the Pillow/numpy preprocessing matches
timm's; quantization is kept or rejected by its tolerance."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("automl_timm")

from automl_onnx.config import OnnxExportConfig  # noqa: E402
from automl_onnx.exporter import OnnxExporter  # noqa: E402
from automl_onnx.runtime import OnnxModel  # noqa: E402

from automl.features.views import EmbeddingView  # noqa: E402
from automl.model.fitted import FittedMember, FittedModel  # noqa: E402
from automl.plugins.components import MetricSpec, TrainContext  # noqa: E402

# Each export converts resnet18 with torch.onnx or splices it (seconds): in the slow part of the suite.
pytestmark = pytest.mark.slow

SIZE = 64  # resnet18 is fully convolutional: a small input keeps the tests fast


def _embedder(size: int | None = None):
    from automl_timm.configs import TimmBackboneConfig
    from automl_timm.embedder import TimmEmbedder
    from automl_timm.loading import load_backbone

    embedder = load_backbone("resnet18", "resnet18", (), TimmBackboneConfig(pretrained=False, num_threads=2))
    if size is None:
        return embedder
    config = {**embedder.data_config, "input_size": (3, size, size)}
    small = TimmEmbedder("resnet18", embedder.model, config, f"{embedder.identity}|{size}px", batch_size=16)
    small.num_threads = 2
    return small


@pytest.fixture(scope="module")
def networks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Converted backbones shared by the module's exports: resnet18 is converted once."""
    return tmp_path_factory.mktemp("networks")


@pytest.fixture(scope="module")
def image_model(tmp_path_factory: pytest.TempPathFactory, make_images, fit_trainer):
    paths, y = make_images(tmp_path_factory.mktemp("images"), 36)
    view = EmbeddingView(_embedder(SIZE))
    key = "backbone:resnet18"
    train = view.transform(paths[:24])
    ctx = TrainContext("image_classification", 2, 0)
    members = [
        FittedMember(key, fit_trainer("linear_probe", {"C": 0.1}, ctx, train, y[:24]), 0.7),
        FittedMember(key, fit_trainer("mlp_head", {"hidden": 16, "max_iter": 300}, ctx, train, y[:24]), 0.3),
    ]
    model = FittedModel("image_classification", ["no_square", "square"], {key: view}, members, threshold=0.45)
    return model, paths[24:], y[24:]


def test_backbone_and_heads_export_as_one_graph(image_model, networks: Path, tmp_path: Path):
    model, check, _ = image_model
    report = OnnxExporter().export(model, check, tmp_path, cache_dir=networks)
    assert report.exported, report.reason
    assert report.max_abs_diff <= 1e-4 and report.same_label_rate == 1.0
    assert report.rows_checked == len(check)
    meta = json.loads((tmp_path / "model.json").read_text())
    assert meta["input_kind"] == "image" and meta["threshold"] == 0.45
    (pixels,) = meta["inputs"]
    assert pixels["name"] == "pixels" and pixels["shape"] == [None, 3, SIZE, SIZE]
    assert pixels["preprocess"]["data_config"]["input_size"] == [3, SIZE, SIZE]
    runtime = OnnxModel(tmp_path)
    assert [i.name for i in runtime.session.get_inputs()] == ["pixels"]
    np.testing.assert_allclose(runtime.predict_proba(check), model.predict_proba(check), atol=1e-4)
    assert runtime.predict(check) == [model.classes[i] for i in model.predict_index(check)]
    # the embedding the invoke log keeps comes out of the same pass, as the native model gives it
    assert report.embedding and report.embedding_max_abs_diff is not None
    assert "embedding" in meta["outputs"]
    proba, vectors = runtime.predict_proba_and_embedding(check)
    native_proba, native_vectors = model.predict_proba_and_embedding(check)
    assert vectors.dtype == np.float32 and vectors.shape == native_vectors.shape
    np.testing.assert_allclose(vectors, native_vectors, atol=1e-3, rtol=1e-4)
    np.testing.assert_allclose(proba, native_proba, atol=1e-4)


def test_numpy_preprocessing_matches_timms_eval_transform(make_images, tmp_path: Path):
    from automl_onnx.imaging import preprocess

    from automl.data.images import as_rgb

    embedder = _embedder()  # the real 224 px configuration (bicubic, crop_pct 0.875)
    paths, _ = make_images(tmp_path, 4)
    images = [as_rgb(p) for p in paths] + [as_rgb(paths[2]).resize((300, 260))]
    ours = preprocess(images, embedder.data_config)
    theirs = np.stack([embedder.transform(img).numpy() for img in images])
    assert ours.shape == theirs.shape == (5, 3, 224, 224)
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


def _fidelity_to(native: np.ndarray) -> MetricSpec:
    """A metric that falls as probabilities move away from the native model's."""
    return MetricSpec(name="fidelity", score=lambda y, proba: -float(np.abs(proba - native).max()))


@pytest.mark.parametrize(("tolerance", "kept"), [(0.9, True), (0.001, False)])
def test_static_quantization_is_kept_only_within_tolerance(
    image_model, networks: Path, tmp_path: Path, tolerance: float, kept: bool
):
    model, check, y = image_model
    metric = _fidelity_to(model.predict_proba(check))
    config = OnnxExportConfig(quantize="static", tolerance=tolerance, calibration_rows=8, keep_slower=True)
    report = OnnxExporter(config).export(model, check, tmp_path, labels=y, metric=metric, cache_dir=networks)
    assert report.exported, report.reason
    q = report.quantized_report
    assert q is not None and q.mode == "static" and q.quantized_nodes > 0
    assert q.kept is kept and report.quantized is kept
    assert q.metric_float > -1e-4 and q.metric_quantized < -0.001  # quantization moved the probabilities
    assert q.ms_per_row and q.float_ms_per_row and q.bytes < q.float_bytes / 2
    meta = json.loads((tmp_path / "model.json").read_text())
    assert q.file == ("model.onnx" if kept else None)
    if kept:
        assert meta["quantized"] == "static" and meta["float_file"] == "model.float.onnx"
        assert (tmp_path / "model.float.onnx").is_file()
        assert (tmp_path / "model.onnx").stat().st_size == q.bytes
        proba = OnnxModel(tmp_path).predict_proba(check)
        assert np.abs(proba - model.predict_proba(check)).max() == pytest.approx(q.max_abs_diff, abs=1e-6)
    else:
        assert meta["quantized"] is None
        assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "model.onnx"]
        assert "beyond tolerance" in q.reason


def test_a_converted_backbone_is_reused_from_the_workspace_cache(image_model, tmp_path: Path, monkeypatch):
    import automl_onnx.backbones as backbones
    from automl_onnx.graph import Unsupported

    model, check, _ = image_model
    cache = tmp_path / "cache"
    exporter = OnnxExporter()
    used = list(model.views.values())
    assert exporter.expected_seconds(used, cache) > 0  # never converted here: the estimate
    first = exporter.export(model, check, tmp_path / "first", cache_dir=cache)
    assert first.exported, first.reason
    assert exporter.expected_seconds(used, cache) == 0.0 and len(list(cache.glob("*.onnx"))) == 1

    def no_conversion(*args, **kwargs):
        raise Unsupported("converted again: the cached network should have been used")

    monkeypatch.setattr(backbones, "_torch_export", no_conversion)
    again = exporter.export(model, check, tmp_path / "again", cache_dir=cache)
    assert again.exported, again.reason
    np.testing.assert_array_equal(
        OnnxModel(tmp_path / "again").predict_proba(check), OnnxModel(tmp_path / "first").predict_proba(check)
    )
    # a damaged entry is converted again (here: refused, so the export says why instead of crashing)
    next(cache.glob("*.onnx")).write_bytes(b"not a graph")
    broken = exporter.export(model, check, tmp_path / "broken", cache_dir=cache)
    assert not broken.exported and "cached network should have been used" in broken.reason


def test_a_backbone_conversion_past_the_time_left_is_skipped_with_the_reason(image_model, tmp_path: Path):
    model, check, _ = image_model
    report = OnnxExporter().export(model, check, tmp_path / "late", cache_dir=tmp_path / "cache", seconds_left=0.5)
    assert not report.exported
    assert "more than the 0 s search.time_budget_s leaves" in report.reason and "takes about" in report.reason
    assert not list((tmp_path / "cache").glob("*.onnx"))


def test_the_check_takes_the_callers_native_outputs_without_running_the_backbone(
    image_model, networks: Path, tmp_path: Path
):
    model, check, _ = image_model
    proba, embedding = model.predict_proba_and_embedding(check)

    class NoBackbone:
        """The model, except that running it natively fails: the check must use the reference."""

        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            if name in ("predict_proba", "predict_proba_and_embedding"):
                raise AssertionError("the native backbone ran")
            return getattr(self.inner, name)

    report = OnnxExporter().export(NoBackbone(model), check, tmp_path, reference=(proba, embedding), cache_dir=networks)
    assert report.exported, report.reason
    assert report.native_ms_per_row is None and report.embedding_max_abs_diff is not None
    # a reference that disagrees with the graph fails the check like a native run would
    wrong = OnnxExporter().export(
        NoBackbone(model), check, tmp_path / "wrong", reference=(1 - proba, embedding), cache_dir=networks
    )
    assert not wrong.exported and "disagrees" in wrong.reason
