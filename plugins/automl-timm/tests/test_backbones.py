"""timm backbones: weights from a local file, the (offline) hub cache, or seeded random init."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from automl_timm import plugin
from automl_timm.configs import TimmBackboneConfig

from automl.plugins.api import BackboneSpec, WeightsUnavailable
from automl.testing import specs_of

EXPECTED = {
    "resnet18",
    "resnet50",
    "efficientnet_b0",
    "mobilenetv3_large_100",
    "convnext_tiny",
    "vit_small_patch16_224",
}


def _spec(name: str) -> BackboneSpec:
    return {s.name: s for s in specs_of(plugin, "register_backbones")}[name]


def _load(name: str = "resnet18", **options: object):
    spec = _spec(name)
    assert spec.load is not None
    return spec.load(TimmBackboneConfig(**options))  # type: ignore[arg-type]


def _timm():
    """timm, imported as automl requires (after the torchvision compatibility fix)."""
    from automl.plugins.torch_compat import ensure_torchvision_importable

    ensure_torchvision_importable()
    import timm

    return timm


def _saved_resnet18(path: Path, seed: int) -> object:
    """A full resnet18 (with its 1000-class head), perturbed so it differs from any other seed,
    saved as a state dict at ``path``; returns the model."""
    import torch

    timm = _timm()
    torch.manual_seed(seed)
    model = timm.create_model("resnet18", pretrained=False)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("running_mean"):
                tensor.add_(0.05 * torch.randn_like(tensor))
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    else:
        torch.save(model.state_dict(), path)
    return model.eval()


def test_registers_the_backbones():
    specs = specs_of(plugin, "register_backbones")
    assert {s.name for s in specs} >= EXPECTED
    assert all(isinstance(s, BackboneSpec) and s.modality == "image" for s in specs)
    assert all(s.config_cls is TimmBackboneConfig for s in specs)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_weights_file_gives_the_saved_models_embeddings(tmp_path, images, suffix):
    import torch

    reference = _saved_resnet18(tmp_path / f"w{suffix}", seed=1)
    embedder = _load(weights=str(tmp_path / f"w{suffix}"))
    vectors = embedder.embed(images)
    assert vectors.dtype == np.float32 and vectors.shape == (len(images), 512)

    from automl.data.images import open_rgb

    reference.reset_classifier(0)
    with torch.inference_mode():
        expected = reference(torch.stack([embedder.transform(open_rgb(p)) for p in images])).numpy()
    np.testing.assert_allclose(vectors, expected, rtol=1e-4, atol=1e-4)


def test_identity_follows_the_weights_file(tmp_path):
    _saved_resnet18(tmp_path / "a.pth", seed=1)
    _saved_resnet18(tmp_path / "b.pth", seed=2)
    a, b = _load(weights=str(tmp_path / "a.pth")), _load(weights=str(tmp_path / "b.pth"))
    random = _load(pretrained=False)
    assert len({a.identity, b.identity, random.identity}) == 3
    assert a.identity == _load(weights=str(tmp_path / "a.pth")).identity
    assert "resnet18" in a.identity and "sha256:" in a.identity and "random-seed0" in random.identity


def test_missing_weights_file_is_weights_unavailable(tmp_path):
    missing = tmp_path / "nowhere.pth"
    with pytest.raises(WeightsUnavailable, match="nowhere.pth"):
        _load(weights=str(missing))


def test_weights_of_another_model_are_rejected(tmp_path):
    _saved_resnet18(tmp_path / "r18.pth", seed=1)
    with pytest.raises(ValueError, match="does not fit resnet50"):
        _load("resnet50", weights=str(tmp_path / "r18.pth"))
    import torch

    torch.save({"encoder.weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="no tensor of resnet18"):
        _load(weights=str(tmp_path / "other.pth"))


def test_offline_without_cached_weights_fails_fast(tmp_path):
    started = time.perf_counter()
    with pytest.raises(WeightsUnavailable) as err:
        _load(pretrained=True, cache_dir=str(tmp_path / "empty-cache"))
    assert time.perf_counter() - started < 10
    message = str(err.value)
    assert "resnet18" in message and "empty-cache" in message and "HF_HUB_OFFLINE" in message
    assert "weights import backbone=resnet18" in message and "\n" not in message


def test_unreachable_hub_means_offline(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    started = time.perf_counter()
    with pytest.raises(WeightsUnavailable, match="unreachable"):
        _load(pretrained=True, cache_dir=str(tmp_path / "empty-cache"))
    assert time.perf_counter() - started < 10
    assert "HF_HUB_OFFLINE" not in os.environ


def test_offline_finds_weights_in_the_hub_cache(tmp_path, images):
    """A Hugging Face cache laid out as a download leaves it: offline, timm loads from there."""
    repo = _timm().models.get_pretrained_cfg("resnet18").hf_hub_id
    folder = tmp_path / "hf" / f"models--{repo.replace('/', '--')}"
    commit = "0" * 40
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(commit)
    (folder / "snapshots" / commit).mkdir(parents=True)
    _saved_resnet18(folder / "snapshots" / commit / "model.safetensors", seed=3)
    _saved_resnet18(tmp_path / "same.safetensors", seed=3)

    cached = _load(pretrained=True, cache_dir=str(tmp_path / "hf"))
    assert f"pretrained:{repo}" in cached.identity
    np.testing.assert_allclose(
        cached.embed(images), _load(weights=str(tmp_path / "same.safetensors")).embed(images), atol=1e-5
    )


def test_random_weights_are_deterministic(images):
    a, b = _load(pretrained=False), _load(pretrained=False)
    assert a.identity == b.identity
    np.testing.assert_array_equal(a.embed(images), b.embed(images))


def test_embeds_pil_images_and_empty_batches(images):
    from PIL import Image

    embedder = _load(pretrained=False, batch_size=4)
    with Image.open(images[0]) as img:
        gray = img.convert("L")
    from_paths = embedder.embed(images)
    mixed = embedder.embed([gray, *images[1:]])
    assert mixed.shape == from_paths.shape
    np.testing.assert_allclose(mixed[1:], from_paths[1:], atol=1e-5)
    assert embedder.embed([]).shape == (0, 512)


def test_embedder_pickles(images):
    embedder = _load(pretrained=False)
    restored = pickle.loads(pickle.dumps(embedder))
    assert restored.identity == embedder.identity
    np.testing.assert_allclose(restored.embed(images), embedder.embed(images), atol=1e-6)


@pytest.mark.slow  # a fresh Python process or a timed backbone: seconds
def test_saved_embedder_loads_in_a_fresh_process(tmp_path, images):
    """As a model bundle is loaded: joblib in a new interpreter that has imported nothing yet."""
    import joblib

    embedder = _load(pretrained=False)
    joblib.dump(embedder, tmp_path / "embedder.joblib")
    np.save(tmp_path / "expected.npy", embedder.embed(images))
    script = (
        "import sys, joblib, numpy as np\n"
        f"e = joblib.load({str(tmp_path / 'embedder.joblib')!r})\n"
        f"got = e.embed({images!r})\n"
        f"assert np.allclose(got, np.load({str(tmp_path / 'expected.npy')!r}), atol=1e-5)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_plugin_import_is_light():
    script = (
        "import sys, automl_timm.plugin\n"
        "heavy = [m for m in ('torch', 'timm', 'torchvision', 'PIL', 'sklearn') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]


def test_registers_through_the_entry_point():
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        distribution("automl-timm")
    except PackageNotFoundError:
        pytest.skip("automl-timm is not installed (pip install -c constraints.txt -e plugins/automl-timm)")
    from automl.plugins.manager import build_plugins

    plugins = build_plugins()
    assert plugins.backbones.entry("resnet18").distribution == "automl-timm"
    assert plugins.trainers.entry("scratch_cnn").distribution == "automl-timm"
