"""Config dataclasses of every component this plugin registers (standard library only: imported by
``automl plugins`` and by recipe validation, which must stay fast)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

# OmegaConf reads these annotations at runtime: keep typing.Optional.
# ruff: noqa: UP045


@dataclass
class TimmBackboneConfig:
    """Options of a timm backbone (``search.backbone_options.<name>``).

    ``weights`` is a local state-dict file (.pth, .pt, .bin or .safetensors) used instead of the
    hub; ``cache_dir`` a Hugging Face cache folder to look in; ``pretrained: false`` means random
    initial weights (seeded, so embeddings are deterministic) and no network.
    """

    pretrained: bool = True
    weights: Optional[str] = None
    cache_dir: Optional[str] = None
    batch_size: int = 32
    num_threads: Optional[int] = None

    def __post_init__(self) -> None:
        """Ranges, checked when the recipe is (``typed_options`` reports the ValueError by key)."""
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1. Got {self.batch_size}.")
        if self.num_threads is not None and self.num_threads < 1:
            raise ValueError(f"num_threads must be an int >= 1 or null (every core). Got {self.num_threads}.")


@dataclass
class FlipConfig:
    """Horizontal flip with probability ``p``."""

    p: float = 0.5
    seed: Optional[int] = None


@dataclass
class RotateConfig:
    """Rotation by an angle drawn uniformly from [-degrees, degrees]; the size is kept."""

    degrees: float = 15.0
    p: float = 1.0
    seed: Optional[int] = None


@dataclass
class CropConfig:
    """Random resized crop: a crop of ``scale_min..scale_max`` of the area, aspect ratio in
    ``ratio_min..ratio_max``, resized back to the input size."""

    scale_min: float = 0.6
    scale_max: float = 1.0
    ratio_min: float = 0.75
    ratio_max: float = 1.3333333333333333
    seed: Optional[int] = None


@dataclass
class ColorJitterConfig:
    """Brightness, contrast and saturation factors drawn from [1 - x, 1 + x]; hue shifted by up to
    ``hue`` of a full turn (0 to 0.5)."""

    brightness: float = 0.2
    contrast: float = 0.2
    saturation: float = 0.2
    hue: float = 0.02
    seed: Optional[int] = None


@dataclass
class NoiseConfig:
    """Gaussian pixel noise of standard deviation ``std`` (on the 0..255 scale), with probability ``p``."""

    std: float = 8.0
    p: float = 1.0
    seed: Optional[int] = None


@dataclass
class ScratchCnnConfig:
    """Hyperparameters of the from-scratch CNN (``search.space.scratch_cnn``)."""

    image_size: int = 64
    epochs: int = 15
    lr: float = 3e-3
    batch_size: int = 64
    augment: bool = True
    weight_decay: float = 5e-4
    width: int = 32


@dataclass
class FinetuneConfig:
    """Hyperparameters of backbone fine-tuning (``search.space.finetune``).

    ``train``: ``last`` updates the backbone's last stage and the new head, ``all`` every layer.
    The head learns at ``lr``, the backbone at ``lr * backbone_lr_scale``. ``image_size`` null: the
    backbone's own input size. ``augment`` applies the recipe's ``search.augmenters``. Training
    stops early when the loss on a ``holdout`` share of the training images has not improved for
    ``patience`` epochs.
    """

    train: str = "last"
    epochs: int = 6
    lr: float = 1e-3
    backbone_lr_scale: float = 0.1
    batch_size: int = 32
    image_size: Optional[int] = None
    augment: bool = True
    patience: int = 2
    holdout: float = 0.15
    weight_decay: float = 1e-4

    def __post_init__(self) -> None:
        if self.train not in ("last", "all"):
            raise ValueError(f"train must be 'last' or 'all'. Got {self.train!r}.")
        if self.epochs < 1 or self.batch_size < 1 or self.patience < 0:
            raise ValueError("epochs and batch_size must be >= 1 and patience >= 0.")
        if not 0 <= self.holdout < 0.5:
            raise ValueError(f"holdout must be in [0, 0.5). Got {self.holdout}.")
        if self.image_size is not None and self.image_size < 32:
            raise ValueError(f"image_size must be >= 32 or null. Got {self.image_size}.")
