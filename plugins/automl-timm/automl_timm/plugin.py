"""Registers timm image backbones, Pillow image augmenters and the ``scratch_cnn`` and ``finetune``
trainers.

Nothing heavy is imported here (``automl plugins`` imports this module): torch, timm and Pillow
are imported inside the functions that load a backbone, build an augmenter or build a trainer.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from automl.plugins import BackboneSpec, ComponentSpec, TrainContext, TrainerSpec, hookimpl
from automl.plugins.components import BACKBONE, RAW, Embedder
from automl_timm.configs import (
    ColorJitterConfig,
    CropConfig,
    FinetuneConfig,
    FlipConfig,
    NoiseConfig,
    RotateConfig,
    ScratchCnnConfig,
    TimmBackboneConfig,
)

# Registry names are timm model names; each is loaded with its default pretrained tag.
BACKBONES: dict[str, str] = {
    "resnet18": "ResNet-18 (512-d), ImageNet weights from timm.",
    "resnet50": "ResNet-50 (2048-d), ImageNet weights from timm.",
    "efficientnet_b0": "EfficientNet-B0 (1280-d), ImageNet weights from timm.",
    "mobilenetv3_large_100": "MobileNetV3-Large 1.0 (1280-d), ImageNet weights from timm.",
    "convnext_tiny": "ConvNeXt-Tiny (768-d), ImageNet weights from timm.",
    "vit_small_patch16_224": "ViT-S/16 at 224 px (384-d), ImageNet weights from timm.",
}


def load_timm_backbone(name: str, config: TimmBackboneConfig) -> Any:
    """The embedder of timm model ``name`` (see :func:`automl_timm.loading.load_backbone`)."""
    from automl_timm.loading import load_backbone

    return load_backbone(name, config)


def build_augmenter(kind: str, config: Any) -> Any:
    """The augmenter ``kind`` (a function of :mod:`automl_timm.augment`) built from ``config``."""
    from automl_timm import augment

    return getattr(augment, kind)(config)


def build_scratch_cnn(cfg: ScratchCnnConfig, ctx: TrainContext) -> Any:
    from automl_timm.cnn import ScratchCNNClassifier

    return ScratchCNNClassifier(
        n_classes=ctx.n_classes,
        image_size=cfg.image_size,
        epochs=cfg.epochs,
        lr=cfg.lr,
        batch_size=cfg.batch_size,
        augment=cfg.augment,
        weight_decay=cfg.weight_decay,
        width=cfg.width,
        seed=ctx.seed,
        n_jobs=ctx.n_jobs,
    )


def build_finetune(cfg: FinetuneConfig, ctx: TrainContext) -> Any:
    from automl_timm.finetune import FinetuneClassifier

    return FinetuneClassifier(
        embedder=ctx.backbone,
        n_classes=ctx.n_classes,
        train=cfg.train,
        epochs=cfg.epochs,
        lr=cfg.lr,
        backbone_lr_scale=cfg.backbone_lr_scale,
        batch_size=cfg.batch_size,
        image_size=cfg.image_size,
        augment=cfg.augment,
        augmenters=ctx.augmenters,
        patience=cfg.patience,
        holdout=cfg.holdout,
        weight_decay=cfg.weight_decay,
        seed=ctx.seed,
        n_jobs=ctx.n_jobs,
    )


def is_timm_backbone(embedder: Embedder) -> bool:
    """``finetune`` takes the backbones of this plugin (their identity starts with ``timm:``)."""
    return str(getattr(embedder, "identity", "")).startswith("timm:")


def finetune_seconds(cfg: FinetuneConfig, n_examples: int, forward_per_second: float) -> float:
    from automl_timm.finetune import finetune_cost

    return finetune_cost(cfg.train, cfg.epochs, cfg.image_size, n_examples, forward_per_second)


@hookimpl
def register_backbones(register: Callable[[BackboneSpec], None]) -> None:
    for name, description in BACKBONES.items():
        register(
            BackboneSpec(
                name=name,
                config_cls=TimmBackboneConfig,
                load=partial(load_timm_backbone, name),
                modality="image",
                description=description,
            )
        )


@hookimpl
def register_augmenters(register: Callable[[ComponentSpec], None]) -> None:
    for name, config_cls, description in (
        ("flip", FlipConfig, "Random horizontal flip (Pillow)."),
        ("rotate", RotateConfig, "Random rotation within +-degrees, size kept (Pillow)."),
        ("crop", CropConfig, "Random resized crop of a share of the area, back to the input size (Pillow)."),
        ("color_jitter", ColorJitterConfig, "Random brightness, contrast, saturation and hue (Pillow)."),
        ("noise", NoiseConfig, "Gaussian pixel noise (numpy)."),
    ):
        register(
            ComponentSpec(
                name=name, config_cls=config_cls, factory=partial(build_augmenter, name), description=description
            )
        )


@hookimpl
def register_trainers(register: Callable[[TrainerSpec], None]) -> None:
    register(
        TrainerSpec(
            name="scratch_cnn",
            config_cls=ScratchCnnConfig,
            build=build_scratch_cnn,
            tasks=("image_classification",),
            inputs=RAW,
            default_space={
                "lr": {"loguniform": [1e-3, 1e-2]},
                "epochs": {"int": [8, 25]},
                "image_size": {"choice": [48, 64]},
            },
            description="A small CNN trained from scratch on the raw images; needs no weights.",
        )
    )
    register(
        TrainerSpec(
            name="finetune",
            config_cls=FinetuneConfig,
            build=build_finetune,
            tasks=("image_classification",),
            inputs=BACKBONE,
            accepts_backbone=is_timm_backbone,
            cost=finetune_seconds,
            default_space={
                "train": {"choice": ["last", "all"]},
                "lr": {"loguniform": [3e-4, 3e-3]},
                "epochs": {"int": [3, 10]},
            },
            description="Fine-tunes a timm backbone (last stage or all of it) with a new head, the recipe's "
            "augmenters and early stopping; tried only when the time budget allows.",
        )
    )
