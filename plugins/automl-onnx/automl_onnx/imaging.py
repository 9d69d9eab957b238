"""timm's eval transform with Pillow and numpy only (no torch at serving time).

For ``crop_mode`` center (timm's default): resize the shorter side to
``floor(size / crop_pct)`` with Pillow's filter, centre-crop to the input size (zero padding when
the image is smaller), scale to [0, 1] and normalise by mean and std, in float32: the same
operations, in the same order and precision, as torchvision's ``Resize``, ``CenterCrop``,
``ToTensor`` and ``Normalize`` on a PIL image. Other crop modes fall back to timm itself.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

DEFAULT_CROP_PCT = 0.875
_FILTERS = {"nearest": 0, "lanczos": 1, "bilinear": 2, "bicubic": 3, "box": 4, "hamming": 5}


def supported(config: dict[str, Any]) -> bool:
    size = config["input_size"]
    return (config.get("crop_mode") or "center") == "center" and int(size[1]) == int(size[2])


def preprocess(images: list[Any], config: dict[str, Any]) -> np.ndarray:
    """``(N, 3, H, W)`` float32 from PIL RGB images, as timm's eval transform for ``config``."""
    if not supported(config):
        return _with_timm(images, config)
    _, height, width = (int(v) for v in config["input_size"])
    crop_pct = config.get("crop_pct") or DEFAULT_CROP_PCT
    short = math.floor(height / crop_pct)
    resample = _FILTERS[config.get("interpolation", "bilinear")]
    mean = np.asarray(config["mean"], dtype=np.float32).reshape(3, 1, 1)
    std = np.asarray(config["std"], dtype=np.float32).reshape(3, 1, 1)
    out = np.empty((len(images), 3, height, width), dtype=np.float32)
    for i, img in enumerate(images):
        w, h = img.size
        if (w <= h and w == short) or (h <= w and h == short):
            resized = img
        elif w <= h:
            resized = img.resize((short, int(short * h / w)), resample)
        else:
            resized = img.resize((int(short * w / h), short), resample)
        pixels = np.asarray(_center_crop(resized, height, width), dtype=np.uint8)
        chw = pixels.transpose(2, 0, 1).astype(np.float32) / np.float32(255)
        out[i] = (chw - mean) / std
    return out


def _center_crop(img: Any, height: int, width: int) -> Any:
    w, h = img.size
    if w < width or h < height:  # torchvision pads with zeros, then crops
        from PIL import Image

        padded = Image.new("RGB", (max(w, width), max(h, height)))
        left, top = (max(w, width) - w) // 2, (max(h, height) - h) // 2
        padded.paste(img, (left, top))
        img = padded
        w, h = img.size
    top = int(round((h - height) / 2.0))
    left = int(round((w - width) / 2.0))
    return img.crop((left, top, left + width, top + height))


def _with_timm(images: list[Any], config: dict[str, Any]) -> np.ndarray:
    from automl.plugins.api import ensure_torchvision_importable

    ensure_torchvision_importable()
    import timm.data
    import torch

    transform = timm.data.create_transform(**config)
    return torch.stack([transform(img) for img in images]).numpy()
