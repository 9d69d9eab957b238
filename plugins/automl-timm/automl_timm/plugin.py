"""Registers timm image backbones, Pillow image augmenters and the ``scratch_cnn`` and ``finetune``
trainers.

Nothing heavy is imported here (``automl plugins`` imports this module): torch, timm and Pillow
are imported inside the functions that load a backbone, build an augmenter or build a trainer.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from functools import partial
from typing import Any

from automl.plugins.api import (
    BACKBONE,
    RAW,
    BackboneSpec,
    ComponentSpec,
    Embedder,
    HubWeights,
    TrainContext,
    TrainerSpec,
    WeightsSource,
    hookimpl,
)
from automl_timm.catalogue import CURATED
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


def load_timm_backbone(
    name: str, timm_model: str, sources: tuple[WeightsSource, ...], config: TimmBackboneConfig
) -> Any:
    """The embedder of backbone ``name`` (see :func:`automl_timm.loading.load_backbone`)."""
    from automl_timm.loading import load_backbone

    return load_backbone(name, timm_model, sources, config)


def timm_variant(model: str) -> BackboneSpec:
    """``timm:MODEL``: any timm architecture by its own name, weights from the hub (or its cache),
    or a file in its options. An unknown name is a ValueError with the closest timm names."""
    from automl_timm.embedder import timm

    if not timm.is_model(model):
        close = difflib.get_close_matches(model, timm.list_models(), n=3)
        hint = f"; did you mean {', '.join('timm:' + c for c in close)}?" if close else ""
        raise ValueError(f"timm has no model {model!r}{hint} (see timm.list_models())")
    cfg = timm.models.get_pretrained_cfg(model)
    sources = (HubWeights(repo_id=cfg.hf_hub_id),) if cfg is not None and cfg.hf_hub_id else ()
    return BackboneSpec(
        name=f"timm:{model}",
        config_cls=TimmBackboneConfig,
        load=partial(load_timm_backbone, f"timm:{model}", model, sources),
        modality="image",
        weights=sources,
        default_search=False,
        description=f"timm {model}.",
    )


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
    for b in CURATED:
        register(
            BackboneSpec(
                name=b.name,
                config_cls=TimmBackboneConfig,
                load=partial(load_timm_backbone, b.name, b.timm_model, b.weights),
                modality="image",
                description=b.description,
                weights=b.weights,
                gflops=b.gflops,
            )
        )
    register(
        BackboneSpec(
            name="timm",
            config_cls=TimmBackboneConfig,
            modality="image",
            default_search=False,
            variant=timm_variant,
            description="Any timm model by its own name, as timm:MODEL (e.g. timm:convnext_nano); weights from "
            "the hub or its cache, or a file in its options.",
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
            stage=2,
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
            stage=1,
            default_space={
                "train": {"choice": ["last", "all"]},
                "lr": {"loguniform": [3e-4, 3e-3]},
                "epochs": {"int": [3, 10]},
            },
            description="Fine-tunes a timm backbone (last stage or all of it) with a new head, the recipe's "
            "augmenters and early stopping; tried only when the time budget allows.",
        )
    )
