"""Image augmenters with Pillow and numpy: picklable callables ``PIL.Image -> PIL.Image`` that keep
the image's size and mode. Each draws from its own seeded generator unless given one."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PIL import Image, ImageEnhance

from automl_timm.configs import ColorJitterConfig, CropConfig, FlipConfig, NoiseConfig, RotateConfig


class Augmenter:
    """Base: holds the config and a numpy generator; subclasses implement ``apply``."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.rng = np.random.default_rng(config.seed)

    def __call__(self, image: Image.Image, rng: np.random.Generator | None = None) -> Image.Image:
        return self.apply(image, rng if rng is not None else self.rng)

    def apply(self, image: Image.Image, rng: np.random.Generator) -> Image.Image:
        raise NotImplementedError


class Flip(Augmenter):
    def apply(self, image: Image.Image, rng: np.random.Generator) -> Image.Image:
        if rng.random() < self.config.p:
            return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return image.copy()


class Rotate(Augmenter):
    def apply(self, image: Image.Image, rng: np.random.Generator) -> Image.Image:
        if rng.random() >= self.config.p:
            return image.copy()
        angle = float(rng.uniform(-self.config.degrees, self.config.degrees))
        return image.rotate(angle, resample=Image.Resampling.BILINEAR, expand=False)


class Crop(Augmenter):
    def apply(self, image: Image.Image, rng: np.random.Generator) -> Image.Image:
        c = self.config
        w, h = image.size
        area = w * h
        for _ in range(10):  # as torchvision's RandomResizedCrop: try, then fall back to the whole image
            target = area * rng.uniform(c.scale_min, c.scale_max)
            ratio = math.exp(rng.uniform(math.log(c.ratio_min), math.log(c.ratio_max)))
            cw, ch = round(math.sqrt(target * ratio)), round(math.sqrt(target / ratio))
            if 0 < cw <= w and 0 < ch <= h:
                left, top = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
                return image.resize((w, h), Image.Resampling.BILINEAR, box=(left, top, left + cw, top + ch))
        return image.copy()


class ColorJitter(Augmenter):
    def apply(self, image: Image.Image, rng: np.random.Generator) -> Image.Image:
        c = self.config
        mode = image.mode
        out = image.convert("RGB")
        for enhancer, amount in (
            (ImageEnhance.Brightness, c.brightness),
            (ImageEnhance.Contrast, c.contrast),
            (ImageEnhance.Color, c.saturation),
        ):
            if amount > 0:
                out = enhancer(out).enhance(float(rng.uniform(max(0.0, 1 - amount), 1 + amount)))
        if c.hue > 0:
            hsv = np.asarray(out.convert("HSV")).copy()
            shift = int(round(rng.uniform(-c.hue, c.hue) * 255))
            hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + shift) % 256).astype(np.uint8)
            out = Image.frombytes("HSV", out.size, hsv.tobytes()).convert("RGB")
        return out if mode == "RGB" else out.convert(mode)


class Noise(Augmenter):
    def apply(self, image: Image.Image, rng: np.random.Generator) -> Image.Image:
        if rng.random() >= self.config.p or self.config.std <= 0:
            return image.copy()
        mode = image.mode
        pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
        noisy = pixels + rng.normal(0.0, self.config.std, pixels.shape).astype(np.float32)
        out = Image.fromarray(np.clip(np.rint(noisy), 0, 255).astype(np.uint8))
        return out if mode == "RGB" else out.convert(mode)


def flip(config: FlipConfig) -> Flip:
    return Flip(config)


def rotate(config: RotateConfig) -> Rotate:
    return Rotate(config)


def crop(config: CropConfig) -> Crop:
    return Crop(config)


def color_jitter(config: ColorJitterConfig) -> ColorJitter:
    return ColorJitter(config)


def noise(config: NoiseConfig) -> Noise:
    return Noise(config)
